"""igamma_p, igammac_p, igamma_grad_a_p and regularized_incomplete_beta_p: values against closed
forms, derivatives against closed forms and central differences, vmap against the unbatched
function, the primitive in jit's program, and operand errors."""
import math

import numpy as np
import pytest

import spmd
from spmd import lax

A = np.array([1.0, 2.0, 3.0, 0.5])
X = np.array([0.7, 3.5, 2.0, 0.3])


def p_integer_a(a, x):
    """P(n, x) = 1 - e^-x sum_{k<n} x^k / k! for integer n; P(1/2, x) = erf(sqrt x)."""
    if a == 0.5:
        return math.erf(math.sqrt(x))
    return 1 - math.exp(-x) * sum(x ** k / math.factorial(k) for k in range(int(a)))


def i_closed(a, b, x):
    """I_x(a, 1) = x^a, I_x(1, b) = 1 - (1-x)^b, I_x(2, 2) = 3x^2 - 2x^3."""
    if b == 1:
        return x ** a
    if a == 1:
        return 1 - (1 - x) ** b
    return 3 * x ** 2 - 2 * x ** 3


def central(f, v, h=1e-6):
    return (f(v + h) - f(v - h)) / (2 * h)


@pytest.fixture(autouse=True)
def x64():
    with spmd.enable_x64(True):
        yield


def test_values_match_closed_forms_and_p_plus_q_is_one():
    want = np.array([p_integer_a(a, x) for a, x in zip(A, X)])
    np.testing.assert_allclose(lax.igamma(A, X), want, rtol=1e-12)
    np.testing.assert_allclose(lax.igammac(A, X), 1 - want, rtol=1e-11)
    a, b, x = np.array([2.5, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]), np.array([0.3, 0.6, 0.8])
    want = [i_closed(*v) for v in zip(a, b, x)]
    np.testing.assert_allclose(lax.betainc(a, b, x), want, rtol=1e-12)


def test_edges_and_domain_errors_as_jax_gives_them():
    a, x = np.array([1.0, 1.0, -1.0, 1.0, np.nan]), np.array([0.0, np.inf, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal(lax.igamma(a, x), [0, 1, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(lax.igammac(a, x), [1, 0, np.nan, np.nan, np.nan])
    b = np.ones(5)
    x = np.array([0.0, 1.0, 1.5, -0.1, 0.5])
    a = np.array([2.0, 2.0, 2.0, 2.0, 0.0])
    np.testing.assert_array_equal(lax.betainc(a, b, x), [0, 1, np.nan, np.nan, np.nan])


def test_float32_keeps_its_dtype():
    out = lax.igamma(A.astype(np.float32), X.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [p_integer_a(a, x) for a, x in zip(A, X)], rtol=1e-5)


def test_derivatives_against_closed_forms_and_central_differences():
    a, x = 2.0, 3.5
    density = x ** (a - 1) * math.exp(-x) / math.gamma(a)
    assert spmd.grad(lax.igamma, argnums=1)(a, x) == pytest.approx(density, rel=1e-12)
    assert spmd.grad(lax.igammac, argnums=1)(a, x) == pytest.approx(-density, rel=1e-12)
    da = central(lambda v: float(lax.igamma(v, x)), a)
    assert float(lax.igamma_grad_a(a, x)) == pytest.approx(da, rel=1e-6)
    assert spmd.grad(lax.igamma)(a, x) == pytest.approx(da, rel=1e-6)
    assert spmd.grad(lax.igammac)(a, x) == pytest.approx(-da, rel=1e-6)
    fds = [central(lambda v: float(lax.igamma_grad_a(v, x)), a),
           central(lambda v: float(lax.igamma_grad_a(a, v)), x)]
    for argnum, fd in enumerate(fds):  # the rules of igamma_grad_a itself
        got = spmd.grad(lax.igamma_grad_a, argnums=argnum)(a, x)
        assert got == pytest.approx(fd, rel=1e-5)
    a, b, x = 2.5, 1.5, 0.4
    args = [a, b, x]
    for argnum in range(3):
        def along(v, i=argnum):
            return float(lax.betainc(*(args[:i] + [v] + args[i + 1:])))
        got = spmd.grad(lax.betainc, argnums=argnum)(a, b, x)
        assert got == pytest.approx(central(along, args[argnum]), rel=1e-6)
    assert spmd.jacfwd(lax.betainc, argnums=2)(a, b, x) == pytest.approx(
        x ** (a - 1) * (1 - x) ** (b - 1) / (math.gamma(a) * math.gamma(b) / math.gamma(a + b)),
        rel=1e-12)


@pytest.mark.parametrize("fn, nargs", [(lax.igamma, 2), (lax.igammac, 2),
                                       (lax.igamma_grad_a, 2), (lax.betainc, 3)])
def test_vmap_and_jit_match_the_unbatched_function(fn, nargs):
    args = [np.array([[1.5, 2.0, 0.7], [3.0, 0.9, 1.2]]),
            np.array([[0.6, 2.5, 1.1], [1.4, 3.0, 2.0]]),
            np.array([[0.2, 0.5, 0.9], [0.1, 0.7, 0.4]])][:nargs]
    want = np.array([[float(fn(*[a[i, j] for a in args])) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(spmd.vmap(fn)(*args), want, rtol=1e-12)
    # batched along axis 1 against operands that are not batched at all
    rest = [a[:, 0] for a in args[1:]]
    want_mixed = np.array([[float(fn(args[0][i, j], *[r[i] for r in rest])) for i in range(2)]
                           for j in range(3)])
    np.testing.assert_allclose(spmd.vmap(fn, in_axes=(1,) + (None,) * (nargs - 1))(
        args[0], *rest), want_mixed, rtol=1e-12)
    np.testing.assert_allclose(spmd.jit(fn)(*args), want, rtol=1e-12)


def test_each_is_one_primitive_in_the_program():
    names = {lax.igamma: "igamma", lax.igammac: "igammac", lax.igamma_grad_a: "igamma_grad_a"}
    for fn, name in names.items():
        eqns = spmd.make_jaxpr(fn)(1.0, 2.0).jaxpr.eqns
        assert [e.prim.name for e in eqns] == [name]
    eqns = spmd.make_jaxpr(lax.betainc)(1.0, 2.0, 0.5).jaxpr.eqns
    assert [e.prim for e in eqns] == [lax.regularized_incomplete_beta_p]
    assert lax.igamma_p.name == "igamma" and lax.igammac_p.name == "igammac"
    assert lax.igamma_grad_a_p.name == "igamma_grad_a"


def test_operand_errors_say_what_to_do():
    with pytest.raises(TypeError, match="igamma does not accept int32 operands"):
        lax.igamma(np.int32(1), np.int32(2))
    with pytest.raises(TypeError, match="igammac got operands of different dtypes"):
        lax.igammac(np.float32(1), np.float64(2))
    with pytest.raises(TypeError, match="igamma_grad_a got operands of different shapes"):
        lax.igamma_grad_a(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="betainc got operands of different shapes"):
        lax.betainc(np.ones(2), np.ones(2), np.ones(3))
