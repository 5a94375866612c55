"""jax.lax.linalg's reductions (schur, hessenberg with householder_product, tridiagonal), the
banded and implicit products (tridiagonal_solve, symmetric_product, ormqr, cholesky_update),
pivoted QR and the JAX keywords of the older decompositions, against NumPy: reconstruction,
triangularity, orthogonality, eigenvalues, dense solves. Every LAPACK dtype, a batch each; the
derivatives JAX has against finite differences; vmap against the loop; the misuses."""
import numpy as np
import pytest

import spmd
import spmd.lax.linalg as lax_linalg
from tests.matrices import draw, hermitian, mH
from tests.oracles import check_grads, check_mapped, tolerance

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@pytest.fixture(autouse=True)
def _x64(x64):
    """float64 and complex128 stay 64-bit."""


def _close(actual, expected, dtype, scale=100):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=tolerance(dtype, scale),
                               atol=tolerance(dtype, scale))


def _is_identity(q, dtype):
    _close(mH(q) @ q, np.broadcast_to(np.eye(q.shape[-1]), q.shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_schur_reconstructs_with_unitary_vectors_and_triangular_form(dtype):
    a = draw((2, 4, 4), dtype)
    t, z = (np.asarray(v) for v in lax_linalg.schur(a))
    assert t.dtype == z.dtype == dtype and t.shape == z.shape == a.shape
    _close(z @ t @ mH(z), a, dtype)
    _is_identity(z, dtype)
    # complex: triangular; real: quasi-triangular, 2 x 2 blocks for complex pairs
    assert not np.tril(t, -1 if np.iscomplexobj(a) else -2).any()
    np.testing.assert_array_equal(np.asarray(lax_linalg.schur(a, compute_schur_vectors=False)),
                                  t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hessenberg_and_householder_product_reconstruct(dtype):
    a = draw((2, 4, 4), dtype, seed=1)
    packed, taus = (np.asarray(v) for v in lax_linalg.hessenberg(a))
    assert packed.dtype == taus.dtype == dtype and taus.shape == (2, 3)
    q = np.zeros_like(a)  # Q = diag(1, the product of the reflectors below the subdiagonal)
    q[..., 0, 0] = 1
    q[..., 1:, 1:] = np.asarray(lax_linalg.householder_product(packed[..., 1:, :-1], taus))
    _is_identity(q, dtype)
    _close(q @ np.triu(packed, -1) @ mH(q), a, dtype)


@pytest.mark.parametrize("dtype, lower", list(zip(DTYPES, [True, False, True, False])))
def test_tridiagonal_keeps_the_eigenvalues(dtype, lower):
    a = hermitian(4, dtype, (2,), seed=2)
    _, d, e, taus = (np.asarray(v) for v in lax_linalg.tridiagonal(a, lower=lower))
    real = np.finfo(dtype).dtype
    assert d.dtype == e.dtype == real and taus.dtype == dtype
    assert d.shape == (2, 4) and e.shape == taus.shape == (2, 3)
    pad = np.zeros((2, 1))
    t = _dense(np.concatenate([pad, e], -1), d, np.concatenate([e, pad], -1))
    _close(np.linalg.eigvalsh(t), np.linalg.eigvalsh(a), dtype)


def _dense(dl, d, du):
    """The tridiagonal matrices of diagonals dl (below, dl[0] unused), d and du (above)."""
    m = d.shape[-1]
    rows = [np.diag(b) + np.diag(a[1:], -1) + np.diag(c[:-1], 1)
            for a, b, c in zip(*(v.reshape(-1, m) for v in (dl, d, du)))]
    return np.stack(rows).reshape(d.shape + (m,))


def _tridiagonal_system(dtype, m=5, batch=(2,), seed=3):
    dl, d, du = (draw(batch + (m,), dtype, seed + i) for i in range(3))
    d = (d + 4).astype(dtype)  # diagonally dominant: well conditioned
    dl[..., 0] = 0
    du[..., -1] = 0
    return dl, d, du, _dense(dl, d, du)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tridiagonal_solve_matches_a_dense_solve(dtype):
    dl, d, du, dense = _tridiagonal_system(dtype)
    b = draw((2, 5, 3), dtype, seed=9)
    expected = np.linalg.solve(dense, b)
    x = lax_linalg.tridiagonal_solve(dl, d, du, b)
    assert x.dtype == dtype
    _close(x, expected, dtype)
    if dtype in (np.float32, np.complex128):  # jaxlib's one kernel for every dtype
        _close(lax_linalg.tridiagonal_solve(dl, d, du, b, perturb_singular=True), expected,
               dtype)


def test_tridiagonal_solve_of_a_singular_matrix_is_nan_unless_perturbed():
    zeros = np.zeros((1, 3))
    b = np.ones((1, 3, 1))
    assert np.isnan(np.asarray(lax_linalg.tridiagonal_solve(zeros, zeros, zeros, b))).all()
    assert np.isfinite(np.asarray(lax_linalg.tridiagonal_solve(
        zeros, zeros, zeros, b, perturb_singular=True))).all()


def test_tridiagonal_solve_derivatives_and_vmap():
    dl, d, du, _ = _tridiagonal_system(np.float64, m=4, batch=())
    b = draw((4, 2), np.float64, seed=8)
    solve = lax_linalg.tridiagonal_solve
    check_grads(solve, (dl, d, du, b), order=1)
    args = (np.stack([dl, 2 * dl]), d, np.stack([du, -du]), np.stack([b, 2 * b]))
    check_mapped(spmd.vmap(solve, in_axes=(0, None, 0, 0)), solve, args, in_axes=(0, None, 0, 0))


def test_symmetric_product_matches_numpy_and_its_derivatives():
    a, c = draw((2, 3, 2), np.float32), hermitian(3, np.float32, (2,), seed=4)
    out = lax_linalg.symmetric_product(a, c, alpha=2.0, beta=-0.5, symmetrize_output=True)
    _close(out, 2 * a @ mH(a) - 0.5 * c, np.float32)
    a, c = draw((3, 2)), hermitian(3, np.float64, seed=5)
    check_grads(lambda a, c: lax_linalg.symmetric_product(a, c, alpha=2.0, beta=3.0), (a, c),
                order=1)


# the four (left, transpose) cases twice over, each once real and once complex
@pytest.mark.parametrize("dtype, cases", [
    (np.float32, [(True, False), (False, True)]), (np.float64, [(True, True), (False, False)]),
    (np.complex64, [(True, True), (False, False)]),
    (np.complex128, [(True, False), (False, True)])])
def test_ormqr_applies_the_qr_factor(dtype, cases):
    a = draw((2, 4, 3), dtype, seed=6)
    raw = [np.linalg.qr(m, mode="raw") for m in a]  # LAPACK's reflectors, transposed
    reflectors = np.stack([h.T for h, _ in raw]).astype(dtype)
    taus = np.stack([t for _, t in raw]).astype(dtype)
    q = np.linalg.qr(a, mode="complete")[0]
    c = draw((2, 4, 2), dtype, seed=7)
    for left, transpose in cases:
        op = mH(q) if transpose else q
        operand = c if left else mH(c)
        out = lax_linalg.ormqr(reflectors, taus, operand, left=left, transpose=transpose)
        _close(out, op @ operand if left else operand @ op, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_update_is_the_factor_of_the_updated_matrix(dtype):
    base = np.eye(4) * 3 + np.ones((4, 4))
    r = np.linalg.cholesky(base).T.astype(dtype)
    w = draw((4,), dtype, seed=8)
    out = np.asarray(lax_linalg.cholesky_update(r, w))
    _close(out.T @ out, base + np.outer(w, w), dtype)
    _close(np.tril(out, -1), np.zeros((4, 4)), dtype)


@pytest.mark.parametrize("dtype, shape", list(zip(DTYPES, [(2, 4, 3), (3, 5), (2, 3, 3), (3, 4)])))
def test_pivoted_qr_reconstructs_the_permuted_matrix(dtype, shape):
    a = draw(shape, dtype, seed=10)
    q, r, p = (np.asarray(v) for v in lax_linalg.qr(a, pivoting=True, full_matrices=False))
    assert p.dtype == np.int32 and sorted(p.reshape(-1, shape[-1])[0]) == list(range(shape[-1]))
    _close(q @ r, np.take_along_axis(a, p[..., None, :], -1), dtype)
    diag = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    assert (np.diff(diag, axis=-1) <= tolerance(dtype, 100)).all()


def test_pivoted_qr_tangent_is_the_tangent_of_the_permuted_matrix():
    a, da = draw((4, 3), seed=11), draw((4, 3), seed=12)
    p = np.asarray(lax_linalg.qr(a, pivoting=True, full_matrices=False)[2])

    @spmd.jit  # one program for both tangents
    def tangents(a, da):
        pivoted = spmd.jvp(lambda a: lax_linalg.qr(a, pivoting=True, full_matrices=False)[1],
                           (a,), (da,))[1]
        plain = spmd.jvp(lambda a: lax_linalg.qr(a, full_matrices=False)[1], (a[:, p],),
                         (da[:, p],))[1]
        return pivoted, plain
    pivoted, plain = tangents(a, da)
    _close(pivoted, np.asarray(plain), np.float64)


def test_complete_qr_of_a_tall_matrix_derivatives():
    # Q's completing columns are not unique, but LAPACK's are smooth in a: JAX's tangent for
    # them is the one finite differences of LAPACK's see
    check_grads(lambda a: lax_linalg.qr(a, full_matrices=True)[0], (draw((4, 2), seed=14),),
                order=1)


def test_jax_keywords_of_the_older_decompositions():
    a = draw((3, 3), seed=12)
    s_qr = lax_linalg.svd(a, compute_uv=False, algorithm=lax_linalg.SvdAlgorithm.QR)
    _close(s_qr, np.linalg.svd(a, compute_uv=False), np.float64)
    upper = np.triu(a) + 3 * np.eye(3)
    x = lax_linalg.triangular_solve(upper, a[0], left_side=True, lower=False)  # a vector b
    _close(x, np.linalg.solve(upper, a[0]), np.float64)
    np.testing.assert_array_equal(
        np.asarray(lax_linalg.lu_pivots_to_permutation(np.array([[2, 2, 2]], np.int32), 4)),
        [[2, 0, 1, 3]])
    schur_form = lambda a: lax_linalg.schur(a)[0]  # noqa: E731
    check_mapped(spmd.vmap(schur_form), schur_form, (np.stack([a, 2 * a]),))


def test_misuses_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"schur: argument must be a batch of square matrices"):
        lax_linalg.schur(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"hessenberg: only float32, float64, complex64"):
        lax_linalg.hessenberg(np.ones((3, 3), np.int32))
    with pytest.raises(NotImplementedError, match=r"sort feature of LAPACK's gees"):
        lax_linalg.schur(np.eye(2), sort_eig_vals=True)
    with pytest.raises(ValueError, match=r"householder_product: a must have at least as many"):
        lax_linalg.householder_product(np.ones((2, 3)), np.ones(2))
    with pytest.raises(TypeError, match=r"tridiagonal_solve: the diagonals dl, d and du must"):
        lax_linalg.tridiagonal_solve(np.ones(3), np.ones(3), np.ones(2), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"ormqr with left=True expects c to have as many rows"):
        lax_linalg.ormqr(np.ones((3, 2)), np.ones(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"permutation_size 2 must be at least"):
        lax_linalg.lu_pivots_to_permutation(np.zeros(3, np.int32), 2)
    with pytest.raises(NotImplementedError, match=r"subset_by_index is not supported on CPU"):
        lax_linalg.eigh(np.eye(3), subset_by_index=(0, 1))
    with pytest.raises(NotImplementedError, match=r"not implemented on CPU"):
        lax_linalg.svd(np.eye(3), algorithm=lax_linalg.SvdAlgorithm.JACOBI)
    with pytest.raises(NotImplementedError, match=r"Differentiation rule for 'schur' not"):
        spmd.grad(lambda a: lax_linalg.schur(a)[0].sum())(np.eye(2))


def test_qdwh_is_the_polar_decomposition_of_the_svd():
    dtype = np.complex64  # complex: the conjugations count
    x = draw((5, 3), dtype, seed=13)
    u, h, iterations, converged = lax_linalg.qdwh(x)
    left, s, right = np.linalg.svd(x, full_matrices=False)  # x = (U V^H)(V S V^H)
    _close(u, left @ right, dtype)
    _close(h, mH(right) @ (s[:, None] * right), dtype)
    assert bool(converged) and 0 < int(iterations) <= 10
    # the same matrix padded: only its dynamic_shape counts, the rest of u and h is zero
    padded = np.pad(x, [(0, 1), (0, 2)])
    pu, ph, _, _ = (np.asarray(v) for v in lax_linalg.qdwh(padded, dynamic_shape=(5, 3)))
    _close(pu[:5, :3], np.asarray(u), dtype)
    assert not pu[5:].any() and not pu[:, 3:].any() and not ph[3:].any()
    with pytest.raises(ValueError, match=r"must have M >= N"):
        lax_linalg.qdwh(x.T)
    with pytest.raises(TypeError, match=r"qdwh: x must be a floating or complex matrix"):
        lax_linalg.qdwh(np.ones((3, 2), np.int32))
