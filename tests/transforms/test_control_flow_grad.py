"""Derivatives through structured control flow, against central finite differences in float64
plus JVP/VJP consistency (tests/oracles.py check_grads), to second order: every case of the
shared table, compositions with jit, closures over differentiated values, the loop-invariant
residuals of scan, and while_loop's forward-only differentiation and its reverse-mode error."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from tests.oracles import assert_close, check_grads
from tests.transforms.control_flow_cases import CASES, M, V, W, XS, float_leaves
from spmd.transforms import core
from spmd.transforms.jvp import linearize_flat


pytestmark = pytest.mark.usefixtures("x64")  # (tests/conftest.py)


def _wrt(case):
    """The case as a function of its differentiable arguments, returning its float outputs."""
    def fun(*diff_args):
        args = list(case.args)
        for i, a in zip(case.diff, diff_args):
            args[i] = a
        return float_leaves(case.fun(*args))
    return fun, tuple(case.args[i] for i in case.diff)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_grads(case):
    fun, args = _wrt(case)
    check_grads(fun, args, order=2, modes=case.grad_modes)


COMPOSED = ["rnn", "cond_true", "switch_mid", "fori_static", "nested"]


@pytest.mark.parametrize("name", COMPOSED)
def test_grad_and_jit_compose(name):
    case = next(c for c in CASES if c.name == name)
    fun, args = _wrt(case)

    def scalar(*xs):
        return sum(jnp.sum(jnp.sin(y)) for y in fun(*xs))
    argnums = tuple(range(len(args)))
    expected = spmd.grad(scalar, argnums)(*args)
    assert_close(spmd.jit(spmd.grad(scalar, argnums))(*args), expected)
    assert_close(spmd.grad(spmd.jit(scalar), argnums)(*args), expected)
    check_grads(spmd.jit(scalar), args, order=1)


def test_scan_body_closing_over_a_differentiated_value():
    def loss(w, h):
        # the body closes over w, a tracer of the enclosing grad
        h, _ = lax.scan(lambda c, x: (jnp.tanh(c * w + x), None), h, XS)
        return jnp.sum(h ** 2)
    check_grads(loss, (W, V), order=2)


def test_loop_invariant_residuals_are_computed_once():
    # reverse mode through an RNN must not stack the weight matrix once per iteration
    def rnn_last(m, h):
        return [lax.scan(lambda h, x: (jnp.tanh(m @ h + x), None), h, XS)[0]]
    _, program, _ = linearize_flat(rnn_last, [M, V])
    residual_shapes = [core.get_aval(c).shape for c in program.consts]
    assert (len(XS),) + M.shape not in residual_shapes
    assert any(s == (len(XS), 3) for s in residual_shapes)  # the per-iteration activations
    # a scanned input needed as a residual is used as it is, not copied by the loop
    _, program, _ = linearize_flat(
        lambda h: [lax.scan(lambda c, x: (c * x, None), h, XS)[0]], [V])
    assert [c is XS for c in program.consts].count(True) == 1
    assert [core.get_aval(c).shape for c in program.consts].count(XS.shape) == 1


def _while_sin(x):
    return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.sin(c[1]) * 1.5),
                          (0, x))[1]


def test_while_loop_is_forward_differentiable():
    check_grads(_while_sin, (V,), order=2, modes=("fwd",))
    y, f_jvp = spmd.linearize(_while_sin, V)  # linearize stages the loop's tangent part
    assert_close(f_jvp(W), spmd.jvp(_while_sin, (V,), (W,))[1])
    assert_close(y, _while_sin(V))


REVERSE_ERROR = (r"Reverse-mode differentiation does not work for lax.while_loop or "
                 r"lax.fori_loop with dynamic start/stop values. Try using lax.scan, or using "
                 r"fori_loop with static start/stop.")


def test_reverse_mode_through_while_loop_is_an_error():
    with pytest.raises(ValueError, match=REVERSE_ERROR):
        spmd.grad(lambda x: jnp.sum(_while_sin(x)))(V)

    @spmd.jit
    def traced_bounds(n, x):
        return spmd.grad(lambda x: lax.fori_loop(0, n, lambda i, c: c * x, 1.0))(x)
    with pytest.raises(ValueError, match=REVERSE_ERROR):
        traced_bounds(3, 2.0)
    # static bounds make it a scan: reverse mode works
    assert_close(spmd.grad(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, 1.0))(2.0),
                 np.float64(12.0))


def test_no_gradient_flows_to_an_unused_loop_input():
    # a while loop whose carry does not depend on x: reverse mode is fine, the gradient zero
    def f(x):
        n = lax.while_loop(lambda c: c < 3, lambda c: c + 1, 0)
        return jnp.sum(x) * n
    assert_close(spmd.grad(f)(V), np.full(3, 3.0))


def test_jitted_function_inside_a_body():
    # the jitted function's second output carries no tangent (its JVP instantiates a zero)
    step = spmd.jit(lambda c, s: (jnp.sin(c) * s, s * 3.0))

    def f(x):
        return lax.scan(lambda c, x: (step(c, 0.5)[0] + x, step(c, 2.0)[1]), x, XS)
    check_grads(lambda x: float_leaves(f(x)), (V,), order=1)
