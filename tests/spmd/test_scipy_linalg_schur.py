"""jax.scipy.linalg's schur, hessenberg, rsf2csf, sqrtm, funm and solve_sylvester against NumPy:
reconstruction (A = Z T Z^H, A = Q H Q^H), triangularity, unitarity, sqrtm(A)^2 = A, funm(exp)
against a Taylor series, the Sylvester residual; a real and a complex dtype of each precision
between them (the LAPACK dtypes are all tested in tests/transforms/test_linalg_condensed.py);
the errors they raise."""
import numpy as np
import pytest

import spmd
from spmd.scipy import linalg
from tests.matrices import draw, mH
from tests.oracles import tolerance

# one real and one complex dtype, of different precisions: each compiles programs of its own
DTYPES = [np.float64, np.complex64]


@pytest.fixture(autouse=True)
def _x64(x64):
    """float64 stays 64-bit."""


def _close(actual, expected, dtype, scale=300):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=tolerance(dtype, scale),
                               atol=tolerance(dtype, scale))


def _complex(dtype):
    return np.result_type(dtype, np.complex64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_schur_real_and_complex_forms_and_rsf2csf(dtype):
    a = draw((2, 4, 4), dtype)
    t, z = (np.asarray(v) for v in linalg.schur(a))
    _close(z @ t @ mH(z), a, dtype)
    tc, zc = (np.asarray(v) for v in linalg.schur(a, output="complex"))
    assert tc.dtype == zc.dtype == _complex(dtype) and not np.tril(tc, -1).any()
    _close(zc @ tc @ mH(zc), a, dtype)
    # the real form's 2 x 2 blocks made triangular; Z stays unitary, Z T Z^H stays A (one
    # matrix: the shape funm's test makes rsf2csf compile for)
    t2, z2 = (np.asarray(v) for v in linalg.rsf2csf(t[0], z[0]))
    assert t2.dtype == _complex(dtype) and not np.tril(t2, -1).any()
    _close(z2 @ t2 @ mH(z2), a[0], dtype)
    _close(mH(z2) @ z2, np.eye(4), dtype)
    _close(np.sort_complex(np.diagonal(t2)), np.sort_complex(np.linalg.eigvals(a[0])), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hessenberg_with_and_without_q(dtype):
    a = draw((2, 4, 4), dtype, seed=1)
    h, q = (np.asarray(v) for v in linalg.hessenberg(a, calc_q=True))
    assert not np.tril(h, -2).any()
    _close(q @ h @ mH(q), a, dtype)
    _close(mH(q) @ q, np.broadcast_to(np.eye(4), a.shape), dtype)
    np.testing.assert_array_equal(np.asarray(linalg.hessenberg(a)), h)


def test_hessenberg_of_the_smallest_matrices():
    h, q = linalg.hessenberg(np.full((1, 1), 3.0), calc_q=True)
    np.testing.assert_array_equal(np.asarray(h), [[3.0]])
    np.testing.assert_array_equal(np.asarray(q), [[1.0]])
    assert linalg.hessenberg(np.zeros((0, 0))).shape == (0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sqrtm_squares_back(dtype):
    a = draw((2, 4, 4), dtype, seed=2)  # real ones with negative eigenvalues: complex roots
    root = np.asarray(linalg.sqrtm(a))
    assert root.dtype == _complex(dtype)
    _close(root @ root, a, dtype)
    # the principal root of a positive definite matrix is the positive definite one
    spd = (a @ mH(a) + np.eye(4)).astype(dtype)
    w, v = np.linalg.eigh(spd)
    _close(linalg.sqrtm(spd), (v * np.sqrt(w)[..., None, :]) @ mH(v), dtype)


def _taylor_exp(a, terms=40):
    out, term = np.eye(len(a)), np.eye(len(a))
    for k in range(1, terms):
        term = term @ a / k
        out = out + term
    return out


def test_funm_of_exp_is_the_matrix_exponential():
    dtype = np.float64  # real: through rsf2csf's rotations of the real Schur form
    a = (draw((4, 4), dtype, seed=3) / 2).astype(dtype)
    f, err = linalg.funm(a, spmd.numpy.exp, disp=False)
    assert np.asarray(f).dtype == _complex(dtype)
    _close(f, _taylor_exp(a.astype(np.complex128)), dtype)
    assert 0 < float(err) < 1e-3
    # a nilpotent matrix: every eigenvalue 0, so Parlett's recurrence meets zero denominators
    # (and cannot know the off-diagonal values): finite, with exp's diagonal
    nilpotent = np.triu(draw((4, 4), dtype, seed=4), 1)
    f = np.asarray(linalg.funm(nilpotent, spmd.numpy.exp))
    assert np.isfinite(f).all()
    _close(np.diag(f), np.ones(4), dtype)


@pytest.mark.parametrize("dtype, method", [(np.float64, "schur"), (np.complex64, "schur"),
                                           (np.float64, "eigen")])
def test_solve_sylvester_residual_with_broadcast_batches(dtype, method):
    a = (draw((2, 4, 4), dtype, seed=4) + 3 * np.eye(4)).astype(dtype)
    b = (draw((3, 3), dtype, seed=5) + 3 * np.eye(3)).astype(dtype)  # broadcast over a's batch
    c = draw((2, 4, 3), dtype, seed=6)
    x = np.asarray(linalg.solve_sylvester(a, b, c, method=method))
    assert x.dtype == dtype and x.shape == (2, 4, 3)
    _close(a @ x + x @ b, c, dtype, scale=3000)
    # an eigenvalue of a[0] and one of b cancel (1 + (-1)): no unique solution there, NaN,
    # while a[1]'s solution stands (the same shapes: the same program)
    a = np.stack([np.diag([1.0, 2, 3, 4]), np.diag([2.0, 3, 4, 5])]).astype(dtype)
    b = np.diag([-1.0, 5, 6]).astype(dtype)
    x = np.asarray(linalg.solve_sylvester(a, b, c, method=method))
    assert np.isnan(x[0]).all()
    _close(a[1] @ x[1] + x[1] @ b, c[1], dtype, scale=3000)


def test_misuses_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"Expected 'output' to be either 'real' or 'complex'"):
        linalg.schur(np.eye(2), output="quasi")
    with pytest.raises(TypeError, match=r"schur: only float32, float64, complex64"):
        linalg.schur(np.eye(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"schur: argument must be a batch of square matrices"):
        linalg.schur(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match=r"Blocked version is not implemented"):
        linalg.sqrtm(np.eye(2), blocksize=2)
    with pytest.raises(ValueError, match=r"sqrtm: A must be a \(batch of\) square matrices"):
        linalg.sqrtm(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected square array_like input"):
        linalg.funm(np.ones((2, 2, 2)), spmd.numpy.exp)
    with pytest.raises(ValueError, match=r"Input 'T' must be square"):
        linalg.rsf2csf(np.ones((2, 3)), np.eye(2))
    with pytest.raises(ValueError, match=r"Input array shapes must match"):
        linalg.rsf2csf(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match=r"Incompatible shapes for Sylvester equation"):
        linalg.solve_sylvester(np.eye(2), np.eye(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"Unrecognized method lu"):
        linalg.solve_sylvester(np.eye(2), np.eye(2), np.ones((2, 2)), method="lu")
