"""expm, expm_frechet, polar, eigh_tridiagonal and qr_multiply against closed forms (rotations,
diagonal and nilpotent exponentials), NumPy (a Taylor series, eigvalsh, qr) and finite
differences, with the errors they raise."""
import math

import numpy as np
import pytest

import spmd

from spmd.scipy import linalg
from tests.oracles import assert_close

RNG = np.random.default_rng(0)


def taylor_expm(a, terms=60):
    """e^A by its series after halving A to norm < 1 and squaring back (float64)."""
    s = max(0, math.ceil(math.log2(max(np.abs(a).sum(0).max(), 1e-300))) + 1)
    small = a / 2 ** s
    out, term = np.eye(len(a)), np.eye(len(a))
    for k in range(1, terms):
        term = term @ small / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_expm_closed_forms_and_series(dtype, rtol, x64):
    t = 3.0
    rotation = np.zeros((4, 4))
    rotation[:2, :2] = [[0, t], [-t, 0]]
    rotation_exp = np.eye(4)
    rotation_exp[:2, :2] = [[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]]
    big = np.diag([10.0, -3.0, 20.0, 1.0])  # a norm that needs squarings
    general = RNG.standard_normal((2, 4, 4)) * [[[0.3]], [[2.0]]]  # both Pade ranges
    batch = np.stack([rotation, big, *general]).astype(dtype)  # one program for all
    expected = np.stack([rotation_exp, np.diag(np.exp(np.diag(big)))]
                        + [taylor_expm(g) for g in general])
    out = linalg.expm(batch)
    assert out.dtype == dtype
    assert_close(out, expected.astype(dtype), rtol=rtol * 50, atol=rtol * 50)
    nilpotent = np.triu(RNG.standard_normal((4, 4)), 1)
    exact = np.eye(4) + nilpotent + nilpotent @ nilpotent / 2 + np.linalg.matrix_power(
        nilpotent, 3) / 6
    assert_close(linalg.expm(nilpotent.astype(dtype), upper_triangular=True),
                 exact.astype(dtype), rtol=rtol, atol=rtol)


def test_expm_beyond_max_squarings_is_nan_and_shapes_are_checked():
    assert np.isnan(np.asarray(linalg.expm(np.eye(2) * 100.0, max_squarings=2))).all()
    with pytest.raises(ValueError, match="Expected A to be a \\(batched\\) square matrix"):
        linalg.expm(np.ones((2, 3)))


def test_expm_frechet_and_gradients_by_finite_differences(x64):
    a, e = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    h = 1e-6
    central = (taylor_expm(a + h * e) - taylor_expm(a - h * e)) / (2 * h)
    value, derivative = linalg.expm_frechet(a, e)
    assert_close(value, taylor_expm(a), rtol=1e-11, atol=1e-12)
    assert_close(derivative, central, rtol=1e-6, atol=1e-7)
    assert_close(linalg.expm_frechet(a, e, compute_expm=False), derivative)
    # reverse mode agrees: <d/dA sum(W * expm(A)), E> = sum(W * L(A, E))
    w = RNG.standard_normal((3, 3))
    grad = spmd.grad(lambda x: (w * linalg.expm(x)).sum())(a)
    np.testing.assert_allclose(np.sum(np.asarray(grad) * e), np.sum(w * central), rtol=1e-6)
    with pytest.raises(ValueError, match="expected A and E to be the same shape"):
        linalg.expm_frechet(a, np.eye(2))


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_polar_factors(side, dtype):
    a = RNG.standard_normal((4, 3))
    if dtype == np.complex64:
        a = a + 1j * RNG.standard_normal((4, 3))
    a = (a if side == "right" else a.T).astype(dtype)
    u, p = (np.asarray(f) for f in linalg.polar(a, side, method="svd"))
    np.testing.assert_allclose(u @ p if side == "right" else p @ u, a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p, p.conj().T, atol=1e-5)  # Hermitian...
    assert np.linalg.eigvalsh(p).min() > -1e-5  # ...positive semidefinite
    gram = u.conj().T @ u if side == "right" else u @ u.conj().T
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-5)
    with pytest.raises(ValueError, match="`side` must be either 'right' or 'left'"):
        linalg.polar(a, "top")


def test_eigh_tridiagonal_against_the_dense_matrix():
    d, e = np.array([1.0, 2.0, 3.0, 4.0, -1.0]), np.array([1.0, 0.5, -1.0, 2.0])
    dense = np.diag(d) + np.diag(e, 1) + np.diag(e, -1)
    w = linalg.eigh_tridiagonal(d.astype(np.float32), e.astype(np.float32), eigvals_only=True)
    assert_close(w, np.linalg.eigvalsh(dense).astype(np.float32), rtol=1e-5, atol=1e-5)
    w, v = (np.asarray(x) for x in linalg.eigh_tridiagonal(d, e, select="i",
                                                           select_range=(1, 3)))
    assert w.shape == (3,) and v.shape == (5, 3)
    np.testing.assert_allclose(dense @ v, v * w, atol=1e-4)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(dense)[1:4], rtol=1e-5)
    with pytest.raises(ValueError, match="for select='i', select_range must be specified"):
        linalg.eigh_tridiagonal(d, e, select="i")
    with pytest.raises(TypeError, match="must have same dtype"):
        linalg.eigh_tridiagonal(d.astype(np.float32), e.astype(np.int32))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_qr_multiply_is_c_times_q(shape):
    a = RNG.standard_normal(shape)
    q, r = np.linalg.qr(a)  # LAPACK's geqrf as spmd's: the same signs
    k = min(shape)
    c_right, c_left = RNG.standard_normal((2, shape[0])), RNG.standard_normal((k, 2))
    out, r_out = linalg.qr_multiply(a.astype(np.float32), c_right.astype(np.float32))
    assert_close(out, (c_right @ q).astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(r_out, r.astype(np.float32), rtol=1e-4, atol=1e-5)
    out, _ = linalg.qr_multiply(a, c_left, mode="left")
    assert_close(out, (q @ c_left).astype(np.float32), rtol=1e-4, atol=1e-5)
    vector, _ = linalg.qr_multiply(a, c_right[0])
    assert_close(vector, (c_right[0] @ q).astype(np.float32), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="not compatible for c @ Q operation"):
        linalg.qr_multiply(a, np.ones((2, shape[0] + 1)))
