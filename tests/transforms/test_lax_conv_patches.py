"""lax.conv_general_dilated_patches and conv_general_dilated_local against NumPy loops over the
windows (padding, strides, both dilations, layouts, every dtype family), their derivatives
against finite differences, and vmap against the unbatched function."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped
from tests.transforms.random_operands import draw

rng = np.random.default_rng(0)


def _draw(shape, dtype=np.float32):
    return draw(rng, shape, dtype)


def patches_reference(x, window, strides, padding, lhs_dilation=(1, 1), rhs_dilation=(1, 1)):
    """NCHW patches by hand: dilate the input, pad it, and read each (dilated) window; the
    channel axis holds (c, window row, window column) flattened."""
    n, c, h, w = x.shape
    dilated = np.zeros((n, c, (h - 1) * lhs_dilation[0] + 1, (w - 1) * lhs_dilation[1] + 1),
                       x.dtype)
    dilated[:, :, ::lhs_dilation[0], ::lhs_dilation[1]] = x
    padded = np.pad(dilated, ((0, 0), (0, 0)) + tuple(padding))
    span = [(k - 1) * d + 1 for k, d in zip(window, rhs_dilation)]
    out_hw = [(padded.shape[2 + i] - span[i]) // strides[i] + 1 for i in range(2)]
    out = np.zeros((n, c * window[0] * window[1], *out_hw), x.dtype)
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            r, s = i * strides[0], j * strides[1]
            block = padded[:, :, r:r + span[0]:rhs_dilation[0], s:s + span[1]:rhs_dilation[1]]
            out[:, :, i, j] = block.reshape(n, -1)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64, dtypes.bfloat16, np.int32,
                                   np.complex64])
def test_patches_match_the_windows(dtype, x64):
    x = _draw((2, 3, 5, 6), dtype)
    got = lax.conv_general_dilated_patches(x, (2, 3), (2, 1), ((1, 0), (0, 2)),
                                           lhs_dilation=(1, 2), rhs_dilation=(2, 1))
    assert got.dtype == np.dtype(dtype)
    want = patches_reference(x, (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 2), (2, 1))
    assert_close(got, want)


def test_patches_with_named_padding_and_channels_last_layout():
    x = _draw((1, 5, 4, 2))  # NHWC
    got = lax.conv_general_dilated_patches(x, (3, 2), (1, 1), "SAME",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
    nchw = x.transpose(0, 3, 1, 2)
    want = patches_reference(nchw, (3, 2), (1, 1), ((1, 1), (0, 1)))
    assert_close(got, want.transpose(0, 2, 3, 1))
    assert_close(spmd.jit(lambda v: lax.conv_general_dilated_patches(
        v, (3, 2), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))(x), got)


def test_local_convolution_has_its_own_weights_at_every_position():
    x = _draw((2, 3, 5, 4))
    kernel = _draw((4, 3 * 2 * 2, 4, 3))  # OIHW: O=4, I = c * window, H x W = output positions
    got = lax.conv_general_dilated_local(x, kernel, (1, 1), "VALID", (2, 2))
    want = np.einsum("nphw,ophw->nohw", patches_reference(x, (2, 2), (1, 1), ((0, 0), (0, 0))),
                     kernel)
    assert_close(got, want, rtol=1e-4)


def test_gradients_match_finite_differences(x64):
    x, kernel = _draw((1, 2, 4, 4), np.float64), _draw((3, 2 * 2 * 3, 3, 2), np.float64)
    check_grads(lambda v: lax.conv_general_dilated_patches(v, (2, 3), (1, 1), "VALID"), (x,),
                order=1)
    check_grads(lambda v, k: lax.conv_general_dilated_local(v, k, (1, 1), "VALID", (2, 3)),
                (x, kernel), order=1)


def test_vmap_matches_the_unbatched_function():
    xs = _draw((3, 1, 2, 4, 4))
    f = lambda v: lax.conv_general_dilated_patches(v, (2, 2), (2, 1), "SAME")  # noqa: E731
    check_mapped(spmd.vmap(f), f, (xs,))


def test_local_convolution_rejects_an_unknown_precision():
    with pytest.raises(ValueError, match="precision must be None, a lax.Precision"):
        lax.conv_general_dilated_local(_draw((1, 1, 3, 3)), _draw((1, 4, 2, 2)), (1, 1),
                                       "VALID", (2, 2), precision="fast")
