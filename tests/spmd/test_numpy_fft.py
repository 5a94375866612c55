"""spmd.numpy.fft against numpy.fft: every transform with NumPy's n/s/axes/norm conventions,
more than three axes (XLA's limit, done in groups), the frequency helpers, a gradient through
the numpy layer, and misuse."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import check_grads

F = jnp.fft


def _draw(shape, complex_=True, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


# (name, kwargs, real input?) with the input of shape (3, 4, 6)
CASES = [
    ("fft", {}, False), ("fft", {"n": 4, "axis": 1, "norm": "ortho"}, False),
    ("ifft", {"n": 9, "norm": "forward"}, False), ("rfft", {"n": 5}, True),
    ("irfft", {}, False), ("irfft", {"n": 7, "axis": 0, "norm": "ortho"}, False),
    ("hfft", {"norm": "forward"}, False), ("ihfft", {}, True),
    ("fft2", {"norm": "ortho"}, False), ("ifft2", {"s": (3, 5)}, False),
    ("rfft2", {"axes": (0, 2)}, True), ("irfft2", {"s": (4, 5), "norm": "forward"}, False),
    ("fftn", {"s": (3, 5), "axes": (0, 2)}, False), ("ifftn", {"axes": (0, 2)}, False),
    ("rfftn", {}, True), ("irfftn", {"axes": (1, 2)}, False),
]


@pytest.mark.parametrize("name, kwargs, real", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[1].values()))}" for c in CASES])
def test_transforms_match_numpy(name, kwargs, real, x64):
    x = _draw((3, 4, 6), complex_=not real)
    got = spmd.jit(lambda x: getattr(F, name)(x, **kwargs))(x)
    np.testing.assert_allclose(np.asarray(got), getattr(np.fft, name)(x, **kwargs), atol=1e-10)


def test_more_than_three_axes_are_done_in_groups(x64):
    x = _draw((2, 3, 2, 3, 4))
    r = _draw((2, 3, 2, 3, 4), complex_=False)
    for name, arg in [("fftn", x), ("ifftn", x), ("rfftn", r), ("irfftn", x)]:
        np.testing.assert_allclose(np.asarray(getattr(F, name)(arg)),
                                   getattr(np.fft, name)(arg), atol=1e-10)


def test_single_precision_and_integer_inputs():
    x = np.arange(8, dtype=np.int32)
    got = F.fft(x)
    assert got.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(got), np.fft.fft(x), atol=1e-4)
    assert F.rfft(x.astype(np.float32)).dtype == np.complex64


@pytest.mark.parametrize("n, d", [(7, 0.5), (8, 1.0)])
def test_frequencies_and_shifts_match_numpy(n, d, x64):
    np.testing.assert_allclose(np.asarray(F.fftfreq(n, d)), np.fft.fftfreq(n, d))
    np.testing.assert_allclose(np.asarray(F.rfftfreq(n, d)), np.fft.rfftfreq(n, d))
    x = np.arange(n * 3.0).reshape(3, n)
    np.testing.assert_array_equal(np.asarray(F.fftshift(x)), np.fft.fftshift(x))
    np.testing.assert_array_equal(np.asarray(F.ifftshift(x, axes=1)), np.fft.ifftshift(x, axes=1))
    assert F.fftfreq(n, dtype=np.float32).dtype == np.float32


def test_gradient_through_the_numpy_layer(x64):
    def power(x):  # a real function of a real signal through rfft, with a cropped length
        spectrum = F.rfft(x, n=6, norm="ortho")
        return jnp.sum(jnp.abs(spectrum) ** 2 * jnp.arange(4.0))
    check_grads(spmd.jit(power), (_draw((2, 7), complex_=False),), order=1)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.fft(np.ones(4), norm="both"), ValueError, "invalid norm value"),
    (lambda: F.fft(np.ones(4), n=0), ValueError, "invalid number of data points"),
    (lambda: F.rfft(np.ones(4, np.complex64)), TypeError, "takes a real array"),
    (lambda: F.fftn(np.ones((2, 2)), s=(2, 2), axes=(0,)), ValueError, "same length"),
    (lambda: F.fft(np.ones(4), axis=2), ValueError, "out of bounds"),
    (lambda: F.fftfreq(2.5), ValueError, "n should be an integer"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
