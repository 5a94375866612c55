"""spmd.test_util.check_grads (jax.test_util's): it passes on right derivatives, in every mode
and to higher orders, and raises AssertionError where a custom rule is wrong."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
import spmd.test_util
from spmd.test_util import check_grads, check_jvp, check_vjp


def _sin_with_rule(tangent):
    """sin with the custom JVP rule `tangent(x, t)`."""
    @spmd.custom_jvp
    def f(x):
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), tangent(x, t)
    return f


def _wrong_derivative(factor):
    """sin with a custom JVP `factor` times the right one (1: right)."""
    return _sin_with_rule(lambda x, t: factor * jnp.cos(x) * t)


def _tree_function(params, x):
    return {"y": jnp.tanh(x @ params["w"]) * params["b"], "norm": jnp.sum(x * x)}


def test_check_grads_passes_on_right_derivatives_to_third_order(x64):
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    check_grads(_tree_function, (params, x), order=3, modes=("fwd", "rev", "lin"))
    check_grads(_wrong_derivative(1.0), (np.float64(0.7),), order=2)


def test_check_grads_passes_in_float32_with_jax_tolerances():
    check_grads(lambda x: jnp.exp(jnp.sin(x)), (np.array([0.3, -1.2], np.float32),), order=2)
    check_grads(lambda x: x ** 3, (1.5,), order=2)  # Python scalars


@pytest.mark.parametrize("mode", ["fwd", "rev", "lin"])
def test_check_grads_fails_on_a_wrong_custom_jvp(mode, x64):
    wrong = _wrong_derivative(2.0)
    with pytest.raises(AssertionError):
        check_grads(wrong, (np.float64(0.7),), order=1, modes=(mode,))


def test_check_grads_fails_on_a_wrong_second_derivative(x64):
    # the rule's tangent has the right value, cos(x) t, but x^2 - stop_gradient(x^2) (zero,
    # with derivative 2x) makes its own derivative wrong: order 1 passes, order 2 must not
    f = _sin_with_rule(lambda x, t: (jnp.cos(x) + x * x - spmd.lax.stop_gradient(x * x)) * t)
    x = (np.float64(0.7),)
    check_grads(f, x, order=1)
    for mode in ("fwd", "rev"):
        with pytest.raises(AssertionError):
            check_grads(f, x, order=2, modes=(mode,))


def test_check_jvp_and_check_vjp_take_the_transform(x64):
    f = lambda x: jnp.sin(x) * x  # noqa: E731
    args = (np.linspace(0.1, 1.0, 3),)
    check_jvp(f, lambda p, t: spmd.jvp(f, p, t), args)
    check_vjp(f, lambda *p: spmd.vjp(f, *p), args)
    with pytest.raises(AssertionError, match="tangent"):
        check_jvp(f, lambda p, t: (f(*p), 2 * spmd.jvp(f, p, t)[1]), args)
    with pytest.raises(AssertionError, match="cotangent projection"):
        check_vjp(f, lambda *p: (f(*p), lambda ct: tuple(2 * c for c in spmd.vjp(f, *p)[1](ct))),
                  args)


def test_explicit_tolerances_are_honoured(x64):
    wrong = _wrong_derivative(1.001)
    with pytest.raises(AssertionError):
        check_grads(wrong, (np.float64(0.7),), order=1, modes=("fwd",))
    check_grads(wrong, (np.float64(0.7),), order=1, modes=("fwd",), atol=1e-2, rtol=1e-2)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match=r"unknown modes \['backward'\]; use 'fwd', 'rev'"):
        check_grads(jnp.sin, (0.5,), order=1, modes=("backward",))


def test_test_util_is_a_module_with_jax_names():
    assert spmd.test_util.__name__ == "spmd.test_util"
    assert set(spmd.test_util.__all__) == {"check_grads", "check_jvp", "check_vjp"}
