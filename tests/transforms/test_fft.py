"""lax.fft: each FFT type against numpy.fft in both precisions, its derivatives (it is linear:
the JVP against finite differences and the transpose by <u, J v> = <J^T u, v>), vmap against
the loop, and misuse."""
import numpy as np
import pytest

import spmd
from spmd.transforms import lax
from tests.matrices import draw as _draw
from tests.oracles import check_grads, check_mapped, tolerance




# (fft_type, input dtype, input shape, fft_lengths, NumPy's transform)
CASES = [
    ("FFT", np.complex64, (2, 4, 6), (6,), lambda x: np.fft.fft(x)),
    ("IFFT", np.complex128, (2, 4, 6), (4, 6), lambda x: np.fft.ifft2(x)),
    ("RFFT", np.float32, (3, 2, 4, 5), (2, 4, 5), lambda x: np.fft.rfftn(x, axes=(1, 2, 3))),
    ("IRFFT", np.complex128, (3, 4), (6,), lambda x: np.fft.irfft(x, 6)),
    ("IRFFT", np.complex64, (2, 4, 3), (4, 5), lambda x: np.fft.irfft2(x, (4, 5))),
]


@pytest.mark.parametrize("fft_type, dtype, shape, lengths, oracle", CASES,
                         ids=[f"{c[0]}-{np.dtype(c[1]).name}-{len(c[3])}d" for c in CASES])
def test_fft_matches_numpy(fft_type, dtype, shape, lengths, oracle, x64):
    x = _draw(shape, dtype)
    out = lax.fft(x, fft_type, lengths)
    expected = oracle(x)
    assert out.dtype == expected.astype(
        np.result_type(dtype, np.complex64) if fft_type != "IRFFT"
        else np.finfo(dtype).dtype).dtype
    np.testing.assert_allclose(np.asarray(out), expected, rtol=tolerance(dtype, 100),
                               atol=tolerance(dtype, 100) * 10)


def _as_reals(y):
    """A complex result as its (real, imaginary) parts, for real finite differences."""
    return (lax.real(y), lax.imag(y)) if np.dtype(y.dtype).kind == "c" else y


@pytest.mark.parametrize("fft_type, shape, lengths", [
    ("RFFT", (2, 6), (6,)), ("RFFT", (2, 5), (5,)), ("IRFFT", (2, 4), (6,)),
    ("IRFFT", (2, 3), (5,)), ("FFT", (3, 4), (3, 4))])
def test_derivatives_match_finite_differences(fft_type, shape, lengths, x64):
    if fft_type == "RFFT":
        def fn(x):
            return _as_reals(lax.fft(x, fft_type, lengths))
        args = (_draw(shape, np.float64),)
    else:  # a complex operand enters as its (real, imaginary) parts
        def fn(re, im):
            return _as_reals(lax.fft(lax.complex_(re, im), fft_type, lengths))
        args = (_draw(shape, np.float64, 1), _draw(shape, np.float64, 2))
    check_grads(spmd.jit(fn), args, order=1)


def test_vmap_matches_the_loop(x64):
    x = _draw((3, 2, 5), np.float64)
    check_mapped(spmd.vmap(lambda r: lax.fft(r, "RFFT", (5,)), in_axes=1),
                 lambda r: lax.fft(r, "RFFT", (5,)), [x], in_axes=1)


@pytest.mark.parametrize("call, error, match", [
    (lambda: lax.fft(np.ones((2, 3), np.float32), "RFFT", (4,)), ValueError, "trailing axes"),
    (lambda: lax.fft(np.ones((2, 3), np.complex64), "RFFT", (3,)), TypeError,
     "float32 or float64"),
    (lambda: lax.fft(np.ones((2, 3), np.complex64), "IRFFT", (3,)), ValueError,
     r"sizes \(2,\)"),
    (lambda: lax.fft(np.ones((2, 2, 2, 2), np.complex64), "FFT", (2, 2, 2, 2)), ValueError,
     "1 to 3 trailing axes"),
    (lambda: lax.fft(np.ones(3, np.complex64), "dft", (3,)), ValueError, "unknown fft_type"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
