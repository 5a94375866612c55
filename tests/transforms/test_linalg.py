"""lax.linalg's decompositions against NumPy (by reconstruction where a factor is unique only up
to signs or phases), for every LAPACK dtype and square, tall, wide and batched shapes; their
derivatives against finite differences (of gauge-invariant functions of the factors); vmap
against the loop; and the failures JAX reports as NaN."""
import numpy as np
import pytest

import spmd
from spmd.transforms.lax import linalg
from spmd.transforms.lax.lapack import mH
from tests.matrices import draw as _draw, hermitian as _hermitian, mH as _mH
from tests.matrices import positive_definite as _positive_definite
from tests.oracles import check_grads, check_mapped, tolerance

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
# every dtype and every shape family (square; a batch of tall; a batch of wide; tall), paired
# rather than crossed: each pair compiles programs of its own
DTYPE_SHAPES = list(zip(DTYPES, [(2, 3, 5), (4, 4), (2, 5, 3), (3, 2)]))










def _close(actual, expected, dtype, scale=100):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=tolerance(dtype, scale),
                               atol=tolerance(dtype, scale))


@pytest.fixture(autouse=True)
def _x64(x64):
    """float64 and complex128 stay 64-bit."""


@pytest.mark.parametrize("dtype", DTYPES)
def test_cholesky_matches_numpy(dtype):
    a = _positive_definite(4, dtype, (2,))
    factor = linalg.cholesky(a)
    assert factor.dtype == dtype
    _close(factor, np.linalg.cholesky(a), dtype)


@pytest.mark.parametrize("dtype, shape", DTYPE_SHAPES)
def test_lu_reconstructs_the_permuted_matrix(dtype, shape):
    a = _draw(shape, dtype)
    lu, pivots, perm = (np.asarray(v) for v in linalg.lu(a))
    m, n = shape[-2:]
    k = min(m, n)
    lower = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
    upper = np.triu(lu[..., :k, :])
    assert pivots.dtype == perm.dtype == np.int32 and pivots.shape == shape[:-2] + (k,)
    _close(lower @ upper, np.take_along_axis(a, perm[..., None], -2), dtype)
    # the permutation is the one the row swaps make
    expected = np.broadcast_to(np.arange(m), shape[:-2] + (m,)).copy()
    for idx in np.ndindex(shape[:-2]):
        for i, p in enumerate(pivots[idx]):
            expected[idx][[i, p]] = expected[idx][[p, i]]
    np.testing.assert_array_equal(perm, expected)


@pytest.mark.parametrize("dtype, shape", DTYPE_SHAPES)
def test_qr_is_orthonormal_times_upper_triangular(dtype, shape):
    a = _draw(shape, dtype)
    for full_matrices in (True, False):
        q, r = (np.asarray(v) for v in linalg.qr(a, full_matrices=full_matrices))
        m, n = shape[-2:]
        k = m if full_matrices else min(m, n)
        assert q.shape == shape[:-2] + (m, k) and r.shape == shape[:-2] + (k, n)
        _close(q @ r, a, dtype)
        _close(_mH(q) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), dtype)
        np.testing.assert_array_equal(r, np.triu(r))


@pytest.mark.parametrize("dtype", DTYPES)
def test_eigh_matches_numpy(dtype):
    a = _hermitian(4, dtype, (2,))
    v, w = (np.asarray(x) for x in linalg.eigh(a))
    assert w.dtype == np.finfo(dtype).dtype and v.dtype == dtype
    _close(w, np.linalg.eigvalsh(a), dtype)
    _close(a @ v, v * w[..., None, :], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_eig_vectors_satisfy_their_equations(dtype):
    a = _draw((2, 3, 3), dtype)
    w, vl, vr = (np.asarray(x) for x in linalg.eig(a))
    assert w.dtype == vr.dtype == np.result_type(dtype, np.complex64)
    _close(a @ vr, vr * w[..., None, :], dtype)
    _close(_mH(vl) @ a, w[..., :, None] * _mH(vl), dtype)
    _close(np.linalg.norm(vr, axis=-2), np.ones((2, 3)), dtype)


def test_eig_jvp_of_eigenvalues_and_of_eigenvectors_when_opted_in():
    a, da = _draw((3, 3), np.float64), _draw((3, 3), np.float64, 1)
    fn = spmd.jit(lambda a: linalg.eig(a, compute_left_eigenvectors=False,
                                       compute_right_eigenvectors=False)[0])
    _, got = spmd.jvp(fn, (a,), (da,))
    expected = (np.asarray(fn(a + 1e-6 * da)) - np.asarray(fn(a - 1e-6 * da))) / 2e-6
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-6)
    with pytest.raises(NotImplementedError, match="pass enable_eigvec_derivs=True"):
        spmd.jvp(lambda a: linalg.eig(a)[2], (a,), (da,))
    # opted in: both kinds of eigenvectors, in LAPACK's normalization (unit length, the
    # largest component real), against central differences
    both = spmd.jit(lambda a: linalg.eig(a, enable_eigvec_derivs=True))
    _, got = spmd.jvp(both, (a,), (da,))
    ahead, behind = both(a + 1e-6 * da), both(a - 1e-6 * da)
    for g, p, m in zip(got, ahead, behind):
        np.testing.assert_allclose(np.asarray(g), (np.asarray(p) - np.asarray(m)) / 2e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("dtype, shape", DTYPE_SHAPES)
def test_svd_matches_numpy(dtype, shape):
    a = _draw(shape, dtype)
    u, s, vt = (np.asarray(x) for x in linalg.svd(a, full_matrices=False))
    assert s.dtype == np.finfo(dtype).dtype
    _close(s, np.linalg.svd(a, compute_uv=False), dtype)
    _close((u * s[..., None, :]) @ vt, a, dtype)
    _close(linalg.svd(a, compute_uv=False), s, dtype)
    u_full, s_full, vt_full = linalg.svd(a, full_matrices=True)
    m, n = shape[-2:]
    assert u_full.shape[-2:] == (m, m) and vt_full.shape[-2:] == (n, n)
    _close(_mH(np.asarray(u_full)) @ np.asarray(u_full),
           np.broadcast_to(np.eye(m), shape[:-2] + (m, m)), dtype)


@pytest.mark.parametrize("dtype, left_side, lower, transpose_a, conjugate_a, unit_diagonal", [
    (np.float32, True, True, False, False, False), (np.float64, True, False, True, False, True),
    (np.complex64, False, True, True, True, False),
    (np.complex128, False, False, False, True, False)])
def test_triangular_solve_matches_numpy(dtype, left_side, lower, transpose_a, conjugate_a,
                                        unit_diagonal):
    a = _draw((2, 3, 3), dtype) + 3 * np.eye(3, dtype=dtype)
    b = _draw((2, 3, 2) if left_side else (2, 2, 3), dtype, seed=1)
    x = linalg.triangular_solve(a, b, left_side=left_side, lower=lower, transpose_a=transpose_a,
                                conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = t * (1 - np.eye(3)) + np.eye(3)
    op = t
    if transpose_a:
        op = np.swapaxes(op, -1, -2)
    if conjugate_a:
        op = np.conj(op)
    _close(op @ np.asarray(x) if left_side else np.asarray(x) @ op, b, dtype)


def test_failures_are_nan_as_in_jax():
    assert np.isnan(np.asarray(linalg.cholesky(-np.eye(3)))).all()
    lu, _, _ = linalg.lu(np.zeros((3, 3)))  # singular: still a factorization
    np.testing.assert_array_equal(np.asarray(lu), np.zeros((3, 3)))


# ---------------------------------------------------------------- derivatives
def _svd_invariants(a):
    """u f(s) u^T and v g(s) v^T: the same for every choice of singular vector signs."""
    u, s, vt = linalg.svd(a, full_matrices=False)
    return (u * s[None, :] ** 3) @ u.T, (vt.T * s[None, :] ** 2) @ vt


def _factorizations(square, tall, wide, lower):
    # cholesky's derivatives are checked to second order on their own below
    return (linalg.lu(square)[0], linalg.lu(tall)[0], linalg.lu(wide)[0],
            linalg.triangular_solve(lower, wide.T, left_side=True, lower=True))


def _orthogonal(tall, wide, symmetric):
    v, w = linalg.eigh(symmetric)
    return (linalg.qr(tall, full_matrices=False), linalg.qr(wide),
            (w, (v * w[None, :] ** 3) @ v.T),  # v f(w) v^T: the same for any eigenvector signs
            linalg.svd(tall, compute_uv=False), _svd_invariants(tall), _svd_invariants(wide))


def _svd_invariants(a):
    """u f(s) u^T and v g(s) v^T: the same for every choice of singular vector signs."""
    u, s, vt = linalg.svd(a, full_matrices=False)
    return (u * s[None, :] ** 3) @ u.T, (vt.T * s[None, :] ** 2) @ vt


def test_factorization_derivatives_match_finite_differences():
    # one program for several decompositions: every check compiles its programs once
    check_grads(spmd.jit(_factorizations), (
        _draw((3, 3), np.float64, 1),
        _draw((4, 2), np.float64, 2), _draw((2, 4), np.float64, 3),
        _draw((4, 4), np.float64, 4) + 3 * np.eye(4)), order=1)


def test_orthogonal_decomposition_derivatives_match_finite_differences():
    check_grads(spmd.jit(_orthogonal), (_draw((4, 3), np.float64, 1),
                                        _draw((3, 4), np.float64, 2),
                                        _hermitian(3, np.float64)), order=1)


def test_cholesky_second_derivative():
    check_grads(lambda a: linalg.cholesky(a), (_positive_definite(3, np.float64),), order=2)


def test_triangular_solve_is_differentiable_in_b_by_transposition():
    a = _draw((3, 3), np.float64) + 3 * np.eye(3)
    check_grads(lambda b: linalg.triangular_solve(a, b, left_side=False, lower=False,
                                                  transpose_a=True),
                (_draw((2, 3), np.float64),), order=1)


def _complex_functions(spd, hermitian, tall):
    v, w = linalg.eigh(hermitian)
    return (linalg.cholesky(spd), (v * (w[None, :] ** 3).astype(v.dtype)) @ mH(v),
            linalg.svd(tall, compute_uv=False))


def test_complex_jvps_match_finite_differences():
    args = (_positive_definite(3, np.complex128), _hermitian(3, np.complex128),
            _draw((3, 2), np.complex128))
    tangents = [_draw(a.shape, np.complex128, seed=3) for a in args]
    tangents[:2] = [(t + _mH(t)) / 2 for t in tangents[:2]]  # keep the inputs Hermitian
    fn = spmd.jit(_complex_functions)
    _, got = spmd.jvp(fn, args, tangents)
    eps = 1e-6
    plus = fn(*[a + eps * t for a, t in zip(args, tangents)])
    minus = fn(*[a - eps * t for a, t in zip(args, tangents)])
    for g, p, m in zip(got, plus, minus):
        expected = (np.asarray(p) - np.asarray(m)) / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), expected, atol=1e-6)


# ---------------------------------------------------------------- batching
@pytest.mark.parametrize("fn", [
    lambda a: linalg.lu(a), lambda a: linalg.qr(a), lambda a: linalg.svd(a),
    lambda a: linalg.eigh(a @ a.T), lambda a: linalg.cholesky(a @ a.T + 4 * np.eye(3)),
    lambda a: linalg.triangular_solve(a, np.ones((3, 2)), left_side=True)],
    ids=["lu", "qr", "svd", "eigh", "cholesky", "triangular_solve"])
def test_vmap_matches_the_loop(fn):
    check_mapped(spmd.jit(spmd.vmap(fn, in_axes=1)), spmd.jit(fn), [_draw((3, 2, 3), np.float64)],
                 in_axes=1)


def test_jit_matches_eager():
    a = _draw((2, 3, 3), np.float64)
    for eager, jitted in zip(linalg.lu(a), spmd.jit(linalg.lu)(a)):
        np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, match", [
    (lambda: linalg.cholesky(np.ones((2, 3))), ValueError, "square matrices"),
    (lambda: linalg.lu(np.ones(3)), ValueError, "at least 2 dimensions"),
    (lambda: linalg.qr(np.ones((2, 2), np.int32)), TypeError, "float32, float64, complex64"),
    (lambda: linalg.triangular_solve(np.eye(3), np.ones((2, 2)), left_side=True),
     ValueError, "do not match"),
    (lambda: linalg.triangular_solve(np.eye(2), np.ones((2, 2), np.float32)), TypeError,
     "one dtype"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
