"""spmd.numpy.linalg against numpy.linalg: every function on batched float32 and complex128
inputs (results unique up to signs are compared by what is unique), JAX's conventions for
singular matrices, gradients by finite differences, vmap, and misuse."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.matrices import draw as _draw, mH as _mH, positive_definite
from tests.oracles import check_grads, check_mapped, tolerance

L = jnp.linalg








A, B, V, M = (2, 3, 3), (2, 3, 2), (3,), (4, 3)  # square batch, right-hand sides, vector, tall

# name -> (spmd call, NumPy oracle, argument shapes); each runs for float32 and complex128
VALUES = {
    "solve": (L.solve, np.linalg.solve, [A, B]),
    "solve_vector": (L.solve, np.linalg.solve, [A[1:], V]),
    "inv": (L.inv, np.linalg.inv, [A]),
    "det": (L.det, np.linalg.det, [A]),
    "slogdet": (lambda a: tuple(L.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)), [A]),
    "pinv": (L.pinv, np.linalg.pinv, [M]),
    "matrix_power_3": (lambda a: L.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3),
                       [A]),
    "matrix_power_-2": (lambda a: L.matrix_power(a, -2),
                        lambda a: np.linalg.matrix_power(a, -2), [A]),
    "matrix_power_0": (lambda a: L.matrix_power(a, 0), lambda a: np.linalg.matrix_power(a, 0),
                       [A]),
    "cholesky": (L.cholesky, np.linalg.cholesky, ["spd"]),
    "cholesky_upper": (lambda a: L.cholesky(a, upper=True),
                       lambda a: _mH(np.linalg.cholesky(a)), ["spd"]),
    "eigvalsh": (L.eigvalsh, np.linalg.eigvalsh, ["spd"]),
    "svdvals": (L.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), [M]),
    "matrix_rank": (L.matrix_rank, np.linalg.matrix_rank, [A]),
    "cond": (L.cond, np.linalg.cond, [A]),
    "multi_dot": (lambda a, b, c: L.multi_dot([a, b, c]),
                  lambda a, b, c: np.linalg.multi_dot([a, b, c]), [M, (3, 2), (2,)]),
    "lstsq": (lambda a, b: tuple(L.lstsq(a, b)[:3]),
              lambda a, b: tuple(np.linalg.lstsq(a, b, rcond=None)[:3]), [M, (4, 2)]),
    "tensorinv": (lambda a: L.tensorinv(a, 1), lambda a: np.linalg.tensorinv(a, 1), [(6, 2, 3)]),
    "tensorsolve": (L.tensorsolve, np.linalg.tensorsolve, [(6, 2, 3), (6,)]),
    "trace": (L.trace, lambda a: np.trace(a, axis1=-2, axis2=-1), [A]),
    "outer": (L.outer, np.outer, [V, V]),
}


# float32 for every function; complex128 where the function has a complex path of its own
COMPLEX = ("solve", "inv", "det", "slogdet", "pinv", "cholesky_upper", "eigvalsh", "lstsq",
           "matrix_rank")


@pytest.mark.parametrize("dtype, names", [(np.float32, tuple(VALUES)),
                                           (np.complex128, COMPLEX)])
def test_values_match_numpy(dtype, names, x64):
    inputs = {name: [positive_definite(3, dtype, (2,)) if s == "spd" else _draw(s, dtype, i)
                     for i, s in enumerate(VALUES[name][2])] for name in names}
    # every function in one program: one compilation instead of one per function
    results = spmd.jit(lambda ins: {n: VALUES[n][0](*ins[n]) for n in names})(inputs)
    for name in names:
        got, expected = results[name], VALUES[name][1](*inputs[name])
        for g, e in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, expected))):
            e = np.asarray(e)
            rtol = tolerance(dtype, 1000) if np.issubdtype(e.dtype, np.inexact) else 0
            np.testing.assert_allclose(np.asarray(g), e, rtol=rtol, atol=rtol, err_msg=name)


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0, 3, -1])
def test_vector_norms_match_numpy(ord, x64):  # noqa: A002
    v = _draw((2, 5), np.complex128)
    np.testing.assert_allclose(np.asarray(L.norm(v, ord, axis=1)), np.linalg.norm(v, ord, axis=1))
    np.testing.assert_allclose(np.asarray(L.vector_norm(v, ord=ord if ord is not None else 2)),
                               np.linalg.norm(v.ravel(), ord))


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms_match_numpy(ord, x64):  # noqa: A002
    a = _draw((2, 3, 4), np.float64)
    np.testing.assert_allclose(np.asarray(L.norm(a, ord, axis=(1, 2))),
                               np.linalg.norm(a, ord, axis=(1, 2)))
    np.testing.assert_allclose(np.asarray(L.norm(a, ord, axis=(2, 0), keepdims=True)),
                               np.linalg.norm(a, ord, axis=(2, 0), keepdims=True))
    np.testing.assert_allclose(np.asarray(L.matrix_norm(a, ord=ord or "fro")),
                               np.linalg.norm(a, ord or "fro", axis=(-2, -1)))


def test_norm_without_axis_is_the_flat_2_norm(x64):
    a = _draw((2, 3, 4))
    np.testing.assert_allclose(np.asarray(L.norm(a)), np.linalg.norm(a))
    np.testing.assert_allclose(np.asarray(L.norm(a, keepdims=True)),
                               np.linalg.norm(a, keepdims=True))


def test_decompositions_reconstruct_and_are_named_tuples(x64):
    a = _draw((2, 4, 3), np.complex128)
    u, s, vh = L.svd(a, full_matrices=False)
    np.testing.assert_allclose(np.asarray(u) * np.asarray(s)[..., None, :] @ np.asarray(vh), a)
    assert L.svd(a)._fields == ("U", "S", "Vh")
    q, r = L.qr(a)
    np.testing.assert_allclose(np.asarray(q) @ np.asarray(r), a)
    assert L.qr(a, "complete").Q.shape == (2, 4, 4) and L.qr(a, "r").shape == (2, 3, 3)
    h = positive_definite(3, np.complex128)
    w, v = L.eigh(h)
    np.testing.assert_allclose(h @ np.asarray(v), np.asarray(v) * np.asarray(w))
    assert L.eigh(h, UPLO="U")._fields == ("eigenvalues", "eigenvectors")


def test_eig_and_eigvals(x64):
    a = _draw((2, 3, 3), np.complex128)
    w, v = L.eig(a)
    np.testing.assert_allclose(a @ np.asarray(v), np.asarray(v) * np.asarray(w)[..., None, :],
                               atol=1e-12)
    np.testing.assert_allclose(np.asarray(L.eigvals(a)), np.asarray(w))
    assert L.eig(a)._fields == ("eigenvalues", "eigenvectors")


def test_singular_matrices_follow_jax(x64):
    z = np.zeros((3, 3), np.float32)
    det, (sign, logdet), inv, factor = spmd.jit(
        lambda z: (L.det(z), L.slogdet(z), L.inv(z), L.cholesky(z - np.eye(3))))(z)
    assert float(det) == 0.0 and float(sign) == 0.0 and float(logdet) == -np.inf
    assert not np.isfinite(np.asarray(inv)).any()
    assert np.isnan(np.asarray(factor)).all()  # not positive definite


def test_matrix_rank_of_vectors_and_scalars():
    for x in (np.array([0.0, 2.0, 3.0]), np.zeros(3), np.array(5.0)):
        assert int(L.matrix_rank(x)) == np.linalg.matrix_rank(x)


def test_integer_inputs_become_the_default_float():
    assert L.det(np.eye(3, dtype=np.int32)).dtype == np.float32


def _functions(a, b, tall):
    sign, logdet = L.slogdet(a)
    return L.solve(a, b), L.det(a), logdet, L.norm(tall, 2)


def test_gradients_match_finite_differences(x64):
    # the decompositions' own derivatives are tested in tests/transforms/test_linalg.py
    check_grads(spmd.jit(_functions), (_draw(A, seed=1), _draw(B, seed=2), _draw(M, seed=3)),
                order=1)


def test_vmap_matches_the_loop(x64):
    fn = lambda a, b: (L.solve(a, b), L.det(a))  # noqa: E731
    check_mapped(spmd.jit(spmd.vmap(fn, in_axes=(2, None))), spmd.jit(fn),
                 [_draw((3, 3, 2)), _draw((3,))], in_axes=(2, None))


@pytest.mark.parametrize("call, error, match", [
    (lambda: L.inv(np.ones((2, 3))), ValueError, "must be square"),
    (lambda: L.det(np.ones(3)), ValueError, "at least 2 dimensions"),
    (lambda: L.solve(np.eye(3), np.ones((2, 2))), ValueError, "needs 3 rows"),
    (lambda: L.qr(np.eye(2), "raw"), ValueError, "unsupported mode"),
    (lambda: L.norm(np.ones((2, 2, 2)), 2), ValueError, "pass axis"),
    (lambda: L.norm(np.ones(3), "fro"), ValueError, "invalid order 'fro' for vectors"),
    (lambda: L.norm(np.ones((2, 2)), 3), ValueError, "invalid order 3 for matrices"),
    (lambda: L.matrix_power(np.eye(2), 1.5), TypeError, "must be an integer"),
    (lambda: L.lstsq(np.ones((3, 2)), np.ones(2)), ValueError, "leading dimensions"),
    (lambda: L.eigh(np.eye(2), UPLO="X"), ValueError, "UPLO must be"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_linalg_cross_and_vecdot():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(jnp.linalg.cross(a, b), np.cross(a, b), rtol=1e-5)
    np.testing.assert_allclose(jnp.linalg.vecdot(a, b), np.sum(a * b, -1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"3-dimensional vectors, but they have "
                                         r"x1.shape\[axis\]=2 and x2.shape\[axis\]=2"):
        jnp.linalg.cross(a[:, :2], b[:, :2])
