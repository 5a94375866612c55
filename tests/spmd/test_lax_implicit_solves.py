"""spmd.lax.custom_root and custom_linear_solve: the solver's value, with derivatives from the
equation solved (implicit differentiation), against closed forms and NumPy's solve."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax

A = np.array([[3.0, 1.0], [0.5, 2.0]], np.float32)
B = np.array([1.0, 2.0], np.float32)


def _newton_sqrt(a):
    def solve(f, x0):  # Newton's iterations: differentiating them would be slow and inexact
        return lax.fori_loop(0, 20, lambda i, x: x - f(x) / (2 * x), x0)
    return lax.custom_root(lambda x: x ** 2 - a, 1.0, solve, lambda g, y: y / g(1.0))


def test_custom_root_value_and_implicit_derivatives():
    np.testing.assert_allclose(_newton_sqrt(2.0), np.sqrt(2.0), rtol=1e-6)
    want = 0.5 / np.sqrt(2.0)  # d sqrt(a) / da
    np.testing.assert_allclose(spmd.grad(_newton_sqrt)(2.0), want, rtol=1e-5)
    np.testing.assert_allclose(spmd.jvp(_newton_sqrt, (2.0,), (1.0,))[1], want, rtol=1e-5)
    np.testing.assert_allclose(spmd.jit(spmd.grad(_newton_sqrt))(2.0), want, rtol=1e-5)


def _solve(a, b, **kw):
    return lax.custom_linear_solve(lambda v: a @ v, b, lambda mv, r: jnp.linalg.solve(a, r),
                                   **kw)


@pytest.mark.parametrize("kw", [
    {"transpose_solve": lambda vm, r: jnp.linalg.solve(A.T, r)},
    {"transpose_solve": lambda vm, r: jnp.linalg.solve(spmd.jacfwd(vm)(r), r)},
])
def test_custom_linear_solve_gradients_match_numpy(kw):
    np.testing.assert_allclose(_solve(A, B, **kw), np.linalg.solve(A, B), rtol=1e-5, atol=1e-6)
    loss = lambda a, b: (_solve(a, b, **kw) ** 2).sum()  # noqa: E731
    g_a, g_b = spmd.grad(loss, (0, 1))(A, B)
    x = np.linalg.solve(A, B)
    want_b = np.linalg.solve(A.T, 2 * x)  # the adjoint system
    np.testing.assert_allclose(g_b, want_b, rtol=1e-5)
    np.testing.assert_allclose(g_a, -np.outer(want_b, x), rtol=1e-5, atol=1e-6)


def test_custom_linear_solve_symmetric_uses_solve_for_the_transpose():
    s = A @ A.T
    g = spmd.grad(lambda b: _solve(s, b, symmetric=True).sum())(B)
    np.testing.assert_allclose(g, np.linalg.solve(s, np.ones(2)), rtol=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: spmd.grad(lambda b: _solve(A, b).sum())(B), TypeError,
     "transpose_solve is required"),
    (lambda: lax.custom_root(lambda x: x, 1.0, lambda f, x: x, lambda g, y: y, has_aux=True),
     NotImplementedError, "has_aux=True"),
])
def test_errors_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()
