"""lax.custom_linear_solve binds the `custom_linear_solve` primitive (lax.linear_solve_p) with
JAX's rules: its values, derivatives (forward, reverse, second order), batching and auxiliary
outputs, against NumPy's solve, closed forms and finite differences."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from tests.oracles import check_grads

A = np.array([[3.0, 1.0], [0.5, 2.0]], np.float32)
B = np.array([1.0, 2.0], np.float32)


def _inverse(a):
    """The inverse of a 2x2 matrix in closed form (cheaper to compile than an LU solve)."""
    adjugate = jnp.stack([jnp.stack([a[1, 1], -a[0, 1]]), jnp.stack([-a[1, 0], a[0, 0]])])
    return adjugate / (a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0])


def _solve(a, b, **kw):
    """x = a^-1 b; the solvers never see `matvec`/`vecmat`, so only the primitive's rules can
    make the derivatives right."""
    kw.setdefault("transpose_solve", lambda vecmat, r: jnp.dot(jnp.transpose(_inverse(a)), r))
    return lax.custom_linear_solve(lambda v: jnp.dot(a, v), b,
                                   lambda matvec, r: jnp.dot(_inverse(a), r), **kw)


def test_it_is_one_primitive_whose_value_is_the_solve():
    assert lax.linear_solve_p.name == "custom_linear_solve"
    text = str(spmd.make_jaxpr(lambda b: _solve(A, b))(B))
    assert "custom_linear_solve[" in text
    np.testing.assert_allclose(_solve(A, B), np.linalg.solve(A, B), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(spmd.jit(_solve)(A, B), np.linalg.solve(A, B), rtol=1e-5,
                               atol=1e-6)


def test_derivatives_in_the_matrix_and_the_right_hand_side():
    x = np.linalg.solve(A, B)
    dx = spmd.jvp(lambda a, b: _solve(a, b), (A, B), (np.ones_like(A), B))[1]
    np.testing.assert_allclose(dx, np.linalg.solve(A, B - np.ones_like(A) @ x), rtol=1e-5,
                               atol=1e-6)
    g_a, g_b = spmd.jit(spmd.grad(lambda a, b: (_solve(a, b) ** 2).sum(), (0, 1)))(A, B)
    adjoint = np.linalg.solve(A.T, 2 * x)
    np.testing.assert_allclose(g_b, adjoint, rtol=1e-5)
    np.testing.assert_allclose(g_a, -np.outer(adjoint, x), rtol=1e-5, atol=1e-6)


def test_second_order_derivatives_match_finite_differences():
    with spmd.enable_x64(True):
        a, b = A.astype(np.float64), B.astype(np.float64)
        check_grads(lambda a, b: _solve(a, b), (a, b), order=2)


def test_batching_over_b_the_matrix_and_gradients_matches_the_loop():
    bs = np.stack([B, 2 * B, B - 3])
    as_ = np.stack([A, A + 1, 2 * A])
    np.testing.assert_allclose(spmd.vmap(lambda b: _solve(A, b))(bs),
                               np.linalg.solve(A, bs.T).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(spmd.vmap(lambda a: _solve(a, B))(as_),
                               [np.linalg.solve(a, B) for a in as_], rtol=1e-5, atol=1e-6)
    grads = spmd.vmap(spmd.grad(lambda a, b: _solve(a, b).sum()))(as_, bs)
    loop = [-np.outer(np.linalg.solve(a.T, np.ones(2)), np.linalg.solve(a, b))
            for a, b in zip(as_, bs)]
    np.testing.assert_allclose(grads, loop, rtol=1e-4, atol=1e-5)


def test_pytree_right_hand_side_and_auxiliary_outputs():
    def matvec(v):
        return {"u": 2.0 * v["u"], "w": v["w"] + v["u"][0]}

    def solve(mv, r):  # the inverse of matvec, with an iteration count as aux
        u = r["u"] / 2.0
        return {"u": u, "w": r["w"] - u[0]}, jnp.int32(7)

    def transpose_solve(vm, r):  # vecmat(y) = {"u": 2 y_u + (y_w, 0), "w": y_w}
        return {"u": (r["u"] - jnp.stack([r["w"], 0.0])) / 2.0, "w": r["w"]}, jnp.int32(8)
    b = {"u": np.array([2.0, 4.0], np.float32), "w": np.array(3.0, np.float32)}
    x, aux = lax.custom_linear_solve(matvec, b, solve, transpose_solve, has_aux=True)
    np.testing.assert_allclose(x["u"], [1.0, 2.0])
    np.testing.assert_allclose(x["w"], 2.0)
    assert int(aux) == 7

    def w_of(s):  # w = 3 - 2 s / 2
        b_s = {"u": s * b["u"], "w": b["w"]}
        return lax.custom_linear_solve(matvec, b_s, solve, transpose_solve, has_aux=True)[0]["w"]
    np.testing.assert_allclose(spmd.jvp(w_of, (1.0,), (1.0,))[1], -1.0)
    np.testing.assert_allclose(spmd.grad(w_of)(1.0), -1.0)


@pytest.mark.parametrize("call, error, match", [
    (lambda: spmd.grad(lambda b: lax.custom_linear_solve(
        lambda v: jnp.dot(A, v), b, lambda mv, r: jnp.dot(_inverse(A), r)).sum())(B), TypeError,
     "transpose_solve is required"),
    (lambda: lax.custom_linear_solve(lambda v: v[:1], B, lambda mv, r: r), ValueError,
     r"matvec\(\) output shapes must match b"),
    (lambda: lax.custom_linear_solve(lambda v: v, B, lambda mv, r: (r,)), TypeError,
     r"solve\(\) output pytree structure must match b"),
    (lambda: lax.custom_linear_solve(lambda v: v, np.arange(2), lambda mv, r: r), TypeError,
     "b must hold float or complex arrays"),
])
def test_errors_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()
