"""spmd.image against an oracle written here in plain loops (each output pixel's weights built
from the kernel's closed form), closed forms (identity resizes, constant images, linear ramps),
and finite differences for gradients in the image, the scale and the translation."""
import math

import numpy as np
import pytest

import spmd
from spmd import image
from tests.oracles import assert_close


def keys(x):
    x = abs(x)
    if x < 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2 if x < 2 else 0.0


def opencv(x):
    x, a = abs(x), -0.75
    if x < 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a if x < 2 else 0.0


def lanczos(radius):
    def kernel(x):
        x = abs(x)
        if x == 0:
            return 1.0
        if x > radius:
            return 0.0
        return radius * math.sin(math.pi * x) * math.sin(math.pi * x / radius) / (math.pi * x)**2
    return kernel


KERNELS = {"linear": lambda x: max(0.0, 1 - abs(x)), "cubic": keys, "lanczos3": lanczos(3),
           "lanczos5": lanczos(5), "cubic-pytorch": opencv}


def oracle_weights(m, n, scale, shift, method, antialias):
    """(n, m): row j holds output pixel j's weights over the m input pixels."""
    if method == "cubic-pytorch" and antialias:
        method = "cubic"  # JAX's documented behaviour: the two differ only without antialias
    w = np.zeros((n, m))
    for j in range(n):
        if method == "area":  # overlap of output pixel j's interval with each input pixel's
            lo, hi = (j - shift) / scale, (j + 1 - shift) / scale
            w[j] = [max(0.0, min(hi, i + 1) - max(lo, i)) for i in range(m)]
        else:
            centre = (j + 0.5 - shift) / scale - 0.5
            stretch = max(1.0, 1 / scale) if antialias else 1.0
            if method == "cubic-pytorch" and not antialias:  # edge pixels repeat outward
                for i in range(-2, m + 2):
                    w[j, min(max(i, 0), m - 1)] += opencv(centre - i)
            else:
                if not -0.5 <= centre <= m - 0.5:
                    continue  # samples off the image are 0
                w[j] = [KERNELS[method]((centre - i) / stretch) for i in range(m)]
        w[j] /= w[j].sum()
    return w


def oracle_resize(x, shape, method, antialias=True, scales=None, shifts=None):
    out = np.asarray(x)
    out = out.astype(np.result_type(out, np.float64))
    for d, n in enumerate(shape):
        m = out.shape[d]
        if scales is None and m == n:
            continue
        scale = n / m if scales is None else scales[d]
        shift = 0.0 if shifts is None else shifts[d]
        w = oracle_weights(m, n, scale, shift, method, antialias)
        out = np.moveaxis(np.tensordot(w, np.moveaxis(out, d, 0), axes=1), 0, d)
    return out


RNG = np.random.default_rng(0)
IMG = RNG.standard_normal((5, 6, 2)).astype(np.float32)  # (height, width, channels)
METHODS = ["linear", "cubic", "lanczos3", "lanczos5", "cubic-pytorch", "area"]


@pytest.mark.parametrize("method", METHODS)
def test_resize_against_per_pixel_weights(method):
    shape = (9, 4, 2)  # upsampling rows, downsampling columns
    for antialias in (True, False):
        expected = oracle_resize(IMG, shape, method, antialias)
        out = image.resize(IMG, shape, method, antialias=antialias)
        assert_close(out, expected.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_method_names_and_enum_agree():
    up = image.resize(IMG, (7, 8, 2), image.ResizeMethod.LINEAR)
    for alias in ("bilinear", "trilinear", "triangle"):
        np.testing.assert_array_equal(np.asarray(image.resize(IMG, (7, 8, 2), alias)),
                                      np.asarray(up))
    assert image.ResizeMethod.from_string("bicubic") is image.ResizeMethod.CUBIC
    assert image.ResizeMethod.from_string("bicubic-pytorch") is image.ResizeMethod.CUBIC_PYTORCH


def test_nearest_picks_the_pixel_under_each_centre_and_keeps_the_dtype():
    x = np.arange(5 * 6, dtype=np.int32).reshape(5, 6)
    out = image.resize(x, (3, 9), "nearest")
    rows = [int((i + 0.5) * 5 / 3) for i in range(3)]
    cols = [int((j + 0.5) * 6 / 9) for j in range(9)]
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), x[np.ix_(rows, cols)])


@pytest.mark.parametrize("method", ["nearest"] + METHODS)
def test_identity_resize_and_constant_images(method):
    assert_close(image.resize(IMG, IMG.shape, method), IMG)
    const = np.full((4, 5), 2.5, np.float32)
    # resampling weights sum to one, up (rows) and down (columns)
    assert_close(image.resize(const, (7, 3), method), np.full((7, 3), 2.5, np.float32))


def test_linear_upsampling_reproduces_a_ramp_between_the_edge_pixels():
    ramp = np.add.outer(2 * np.arange(4.0), 3 * np.arange(5.0)).astype(np.float32)
    out = np.asarray(image.resize(ramp, (12, 10), "bilinear"))
    ys, xs = (np.arange(12) + 0.5) * 4 / 12 - 0.5, (np.arange(10) + 0.5) * 5 / 10 - 0.5
    inner = np.ix_((ys >= 0) & (ys <= 3), (xs >= 0) & (xs <= 4))
    np.testing.assert_allclose(out[inner], np.add.outer(2 * ys, 3 * xs)[inner], atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float16, spmd.dtypes.bfloat16, np.int32, np.complex64])
def test_dtypes(dtype):
    x = (IMG[..., 0] * 4).astype(dtype)
    out = image.resize(x, (3, 8), "cubic")
    expected_dtype = np.float32 if dtype == np.int32 else dtype
    assert out.dtype == expected_dtype
    expected = oracle_resize(np.asarray(x), (3, 8), "cubic")
    assert_close(out, expected.astype(expected_dtype), rtol=0.02, atol=0.1, check_dtype=False)


def test_scale_and_translate_against_per_pixel_weights():
    scale, shift = np.array([1.7, 0.6], np.float32), np.array([-0.8, 1.3], np.float32)
    for method in ("linear", "lanczos3"):
        out = spmd.jit(image.scale_and_translate, static_argnums=(1, 2, 5))(
            IMG, (7, 4, 2), (0, 1), scale, shift, method)
        expected = oracle_resize(IMG, (7, 4, 2), method, True,
                                 list(scale) + [1.0], list(shift) + [0.0])
        assert_close(out, expected.astype(np.float32), rtol=1e-5, atol=1e-5)
    # only the named dimensions move (the last here); pixels mapped off the image are 0
    out = image.scale_and_translate(IMG, (5, 6, 2), (1,), [1.0], [2.0], "linear")
    np.testing.assert_array_equal(np.asarray(out)[:, :2], 0)
    assert_close(out[:, 2:], IMG[:, :4])


def test_gradients_in_image_scale_and_translation(x64):
    x, w = RNG.standard_normal((4, 5)), RNG.standard_normal((6, 3))
    args = (x, np.array([1.4, 0.7]), np.array([0.3, -0.4]))

    @spmd.jit
    def loss(img, scale, shift):  # a scalar that weighs every output pixel differently
        return (w * image.scale_and_translate(img, (6, 3), (0, 1), scale, shift, "cubic")).sum()
    grads = spmd.jit(spmd.grad(loss, argnums=(0, 1, 2)))(*args)
    for i, g in enumerate(grads):  # each gradient along a random direction, by central differences
        direction = RNG.standard_normal(np.shape(args[i]))
        step = [a + 1e-6 * direction if j == i else a for j, a in enumerate(args)]
        back = [a - 1e-6 * direction if j == i else a for j, a in enumerate(args)]
        numeric = (float(loss(*step)) - float(loss(*back))) / 2e-6
        np.testing.assert_allclose(np.sum(np.asarray(g) * direction), numeric, rtol=1e-5)


def test_jit_and_vmap_over_a_batch_of_translations():
    shifts = np.array([[0.0], [0.5], [1.5]], np.float32)
    f = spmd.jit(spmd.vmap(lambda t: image.scale_and_translate(IMG[:, 0, 0], (5,), (0,), [1.0],
                                                               t, "linear")))
    loop = [oracle_resize(IMG[:, 0, 0], (5,), "linear", True, [1.0], t) for t in shifts]
    assert_close(f(shifts), np.stack(loop).astype(np.float32), rtol=1e-5, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="shape must have length equal to the number of dim"):
        image.resize(IMG, (3, 3), "linear")
    with pytest.raises(ValueError, match='Unknown resize method "bogus"'):
        image.resize(IMG, (3, 3, 2), "bogus")
    with pytest.raises(ValueError, match="Nearest neighbor resampling is not currently supp"):
        image.scale_and_translate(IMG, IMG.shape, (0,), [1.0], [0.0], "nearest")
