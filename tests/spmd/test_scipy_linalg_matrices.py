"""jax.scipy.linalg's special matrices against their definitions written as loops here, and
against the properties that define them (A @ v is numpy.convolve, the DFT matrix is numpy.fft,
companion eigenvalues are numpy.roots, the inverses invert)."""
import math

import numpy as np
import pytest

import spmd
from spmd.scipy import linalg
from tests.oracles import assert_close

C = np.array([1.0, 2.0, -3.0])
R = np.array([9.0, 4.0, 5.0, 6.0])


def loop_matrix(rows, cols, entry):
    return np.array([[entry(i, j) for j in range(cols)] for i in range(rows)])


def test_toeplitz_hankel_circulant_fiedler_leslie():
    assert_close(linalg.toeplitz(C, R), loop_matrix(3, 4, lambda i, j: C[i - j] if i >= j
                                                    else R[j - i]).astype(np.float32))
    z = np.array([1 + 2j, 3 - 1j], np.complex64)  # r defaults to conj(c): Hermitian
    assert_close(linalg.toeplitz(z), np.array([[z[0], z[1].conj()], [z[1], z[0]]]))
    joined = np.concatenate([C, R[1:]])
    assert_close(linalg.hankel(C, R), loop_matrix(3, 4, lambda i, j: joined[i + j]).astype(
        np.float32))
    assert_close(linalg.hankel(C), loop_matrix(3, 3, lambda i, j: C[i + j] if i + j < 3
                                               else 0.0).astype(np.float32))
    assert_close(linalg.circulant(C), loop_matrix(3, 3, lambda i, j: C[(i - j) % 3]).astype(
        np.float32))
    assert_close(linalg.fiedler(C), np.abs(C[:, None] - C[None, :]).astype(np.float32))
    f, s = np.array([0.1, 2.0, 1.5]), np.array([0.2, 0.8])
    assert_close(linalg.leslie(f, s), np.array([f, [0.2, 0, 0], [0, 0.8, 0]], np.float32))


def test_batched_vectors_give_a_matrix_each():
    cs = np.arange(6.0).reshape(2, 3)
    out = linalg.toeplitz(cs, R[None])
    assert out.shape == (2, 3, 4)
    for b in range(2):
        assert_close(out[b], linalg.toeplitz(cs[b], R))
    assert_close(linalg.circulant(cs)[1], linalg.circulant(cs[1]))
    assert_close(linalg.companion(cs + 1)[0], linalg.companion(cs[0] + 1))


def test_companion_matrices_have_the_polynomials_roots(x64):
    poly = np.array([2.0, -20.0, 62.0, -60.0, 8.0])
    roots = np.sort_complex(np.roots(poly))
    for build in (linalg.companion, linalg.fiedler_companion):
        eig = np.sort_complex(np.linalg.eigvals(np.asarray(build(poly))))
        np.testing.assert_allclose(eig, roots, rtol=1e-9)
    assert_close(linalg.companion(poly)[1:], np.eye(3, 4))
    assert linalg.fiedler_companion(np.array([3.0])).shape == (0, 0)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolution_matrix_times_v_is_numpys_convolve(mode):
    a = np.array([1.0, 2.0, 3.0])
    for n in (2, 5):
        v = np.arange(1.0, n + 1)
        a_mat = np.asarray(linalg.convolution_matrix(a, n, mode))
        np.testing.assert_allclose(a_mat @ v, np.convolve(a, v, mode), rtol=1e-6)


def test_block_diag():
    out = linalg.block_diag(np.ones((2, 2)), 3.0, np.array([4.0, 5.0]))
    expected = np.zeros((4, 5))
    expected[:2, :2], expected[2, 2], expected[3, 3:] = 1, 3, [4, 5]
    assert_close(out, expected.astype(np.float32))
    assert linalg.block_diag().shape == (1, 0)
    with pytest.raises(ValueError, match="must have at most 2 dimensions"):
        linalg.block_diag(np.ones((1, 1, 1)))


def test_matrices_of_a_size_and_their_inverses(x64):
    n = 5
    hilbert = np.asarray(linalg.hilbert(n))
    assert_close(hilbert, loop_matrix(n, n, lambda i, j: 1 / (i + j + 1)))
    np.testing.assert_allclose(np.asarray(linalg.invhilbert(n)) @ hilbert, np.eye(n), atol=1e-8)
    for kind in (None, "lower", "upper"):
        p = np.asarray(linalg.pascal(n, kind)).astype(np.float64)
        np.testing.assert_array_equal(np.asarray(linalg.invpascal(n, kind)) @ p, np.eye(n))
    np.testing.assert_array_equal(np.asarray(linalg.pascal(n)),
                                  loop_matrix(n, n, lambda i, j: math.comb(i + j, i)))
    assert linalg.pascal(n).dtype == np.float32  # as JAX, whatever x64 says
    h = np.asarray(linalg.helmert(n, full=True))
    np.testing.assert_allclose(h @ h.T, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(h[0], np.full(n, 1 / math.sqrt(n)))
    assert linalg.helmert(n).shape == (n - 1, n)
    had = np.asarray(linalg.hadamard(8))
    assert had.dtype == np.int64 and set(np.unique(had)) == {-1, 1}
    np.testing.assert_array_equal(had @ had.T, 8 * np.eye(8))


def test_dft_matrix_is_numpys_fft():
    x = np.arange(6.0) ** 2
    for scale, divisor in ((None, 1), ("sqrtn", math.sqrt(6)), ("n", 6)):
        w = linalg.dft(6, scale)
        assert w.dtype == np.complex64
        np.testing.assert_allclose(np.asarray(w) @ x, np.fft.fft(x) / divisor, rtol=1e-5,
                                   atol=1e-5)


def test_default_dtypes_and_errors():
    assert linalg.hilbert(2).dtype == np.float32 and linalg.hadamard(2).dtype == np.int32
    assert linalg.hankel(np.array([1, 2])).dtype == np.int32
    for call, message in [
            (lambda: linalg.hadamard(6), "n must be a positive power of 2; got 6"),
            (lambda: linalg.helmert(0), "n must be a positive integer; got 0"),
            (lambda: linalg.dft(4, "half"), "scale must be None, 'sqrtn', or 'n'"),
            (lambda: linalg.dft(4, dtype=np.float32), "dtype must be a complex floating-point"),
            (lambda: linalg.pascal(3, "middle"), "Expected kind to be on of"),
            (lambda: linalg.companion(np.array([1.0])), "length of `a` along the last axis"),
            (lambda: linalg.leslie(np.ones(3), np.ones(3)), "Incorrect lengths for f and s"),
            (lambda: linalg.hankel(1.0), "hankel: c must be at least 1-dimensional"),
            (lambda: linalg.convolution_matrix(C, 0), "n must be a positive integer; got 0"),
            (lambda: linalg.convolution_matrix(C, 2, "wide"), "mode must be one of")]:
        with pytest.raises(ValueError, match=message):
            call()


def test_jit_and_grad_through_a_vector_built_matrix():
    f = spmd.jit(lambda c: linalg.toeplitz(c).sum())
    assert_close(f(C.astype(np.float32)), np.float32(linalg.toeplitz(C).sum()))
    # d/dc sum(circulant(c)) = n for every entry: each c_k appears once per column
    assert_close(spmd.grad(lambda c: linalg.circulant(c).sum())(C.astype(np.float32)),
                 np.full(3, 3.0, np.float32))
