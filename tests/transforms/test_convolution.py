"""Convolutions beyond the lax table's rows (lax_cases.py runs conv_general_dilated through eager,
jit, grad and vmap): the helpers JAX programs import, conv/conv_with_general_padding/
conv_transpose, precision and preferred_element_type, and the misuses."""
import functools

import numpy as np
import pytest

import spmd
from spmd.transforms import lax
from tests.oracles import assert_close
from tests.transforms import conv_reference

rng = np.random.default_rng(0)


def _same_pads(n, k, s, lower=False):
    """SAME padding from its definition: output ceil(n / s), the excess split, the extra
    element high ('SAME') or low ('SAME_LOWER')."""
    out = -(-n // s)
    total = max(0, (out - 1) * s + k - n)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


@pytest.mark.parametrize("padding", ["SAME", "SAME_LOWER", "VALID"])
def test_padtype_to_pads(padding):
    shapes, windows, strides = (7, 6, 1, 5), (3, 2, 1, 5), (2, 3, 1, 1)
    got = lax.padtype_to_pads(shapes, windows, strides, padding)
    want = [(0, 0)] * 4 if padding == "VALID" else [
        _same_pads(n, k, s, padding == "SAME_LOWER") for n, k, s in zip(shapes, windows, strides)]
    assert [tuple(p) for p in got] == want


def test_padtype_to_pads_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown padding 'FULL': use 'VALID', 'SAME'"):
        lax.padtype_to_pads((4,), (2,), (1,), "FULL")


def test_conv_dimension_numbers_from_strings():
    dn = lax.conv_dimension_numbers((2, 5, 6, 3), (3, 2, 3, 4), ("NHWC", "HWIO", "NCHW"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 1, 2, 3))
    # spatial dimensions pair up by letter, in the kernel's order
    dn = lax.conv_dimension_numbers((2, 3, 5, 6), (4, 3, 2, 2), ("NCHW", "OIWH", "NCWH"))
    assert dn == lax.ConvDimensionNumbers((0, 1, 3, 2), (0, 1, 2, 3), (0, 1, 2, 3))
    assert lax.conv_dimension_numbers((1, 1, 1), (1, 1, 1), None) == ((0, 1, 2),) * 3


@pytest.mark.parametrize("dn", [None, ("NHWC", "HWIO", "NCHW")])
def test_conv_general_shape_tuple_is_the_output_shape(dn):
    lhs, rhs = (2, 3, 7, 6), (4, 3, 3, 2)
    if dn:
        lhs, rhs = (2, 7, 6, 3), (3, 2, 3, 4)
    x, w = rng.standard_normal(lhs, np.float32), rng.standard_normal(rhs, np.float32)
    for padding in ["SAME", "VALID", ((1, 2), (0, -1))]:
        want = lax.conv_general_dilated(x, w, (2, 1), padding, dimension_numbers=dn).shape
        assert lax.conv_general_shape_tuple(lhs, rhs, (2, 1), padding, dn) == want


def test_conv_and_conv_with_general_padding():
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    assert_close(lax.conv(x, w, (1, 2), "VALID"),
                 conv_reference.conv(x, w, (1, 2), ((0, 0), (0, 0))).astype(np.float32))
    got = lax.conv_with_general_padding(x, w, (2, 1), ((2, 0), (1, 1)), (1, 2), (2, 1))
    want = conv_reference.conv(x, w, (2, 1), ((2, 0), (1, 1)), (1, 2), (2, 1))
    assert_close(got, want.astype(np.float32))


def test_conv_in_float64(x64):
    x, w = rng.standard_normal((1, 2, 9)), rng.standard_normal((3, 2, 4))
    got = lax.conv_general_dilated(x, w, (3,), "SAME_LOWER", rhs_dilation=(2,))
    pads = (_same_pads(9, 7, 3, lower=True),)
    assert_close(got, conv_reference.conv(x, w, (3,), pads, None, (2,)))


def test_preferred_element_type_and_precision():
    x = rng.uniform(-1, 1, (2, 3, 5)).astype(np.float16)
    w = rng.uniform(-1, 1, (2, 3, 3)).astype(np.float16)
    want = conv_reference.conv(x.astype(np.float64), w.astype(np.float64), (1,), ((1, 1),))
    got = lax.conv(x, w, (1,), "SAME", preferred_element_type=np.float32)
    assert_close(got, want.astype(np.float32), rtol=1e-3, atol=1e-3)
    xi, wi = np.arange(12, dtype=np.int8).reshape(1, 2, 6), np.ones((1, 2, 2), np.int8)
    got = lax.conv(xi, wi, (1,), "VALID", preferred_element_type=np.int32)
    assert_close(got, conv_reference.conv(xi.astype(np.int32), wi.astype(np.int32), (1,),
                                          ((0, 0),)))
    for precision in ["highest", ("float32", "bfloat16"), None]:
        assert_close(lax.conv(x, w, (1,), "SAME", precision=precision),
                     want.astype(np.float16))
    with pytest.raises(ValueError, match="unknown precision 'best'"):
        lax.conv(x, w, (1,), "SAME", precision="best")


def test_gradients_under_preferred_element_type_keep_the_operand_dtypes():
    """float16 operands accumulated in float32: the cotangents come back in float16, equal to
    the float32 computation's to float16 precision."""
    x = rng.uniform(-1, 1, (2, 3, 5)).astype(np.float16)
    w = rng.uniform(-1, 1, (2, 3, 3)).astype(np.float16)

    def loss(x, w, **kw):
        return (lax.conv(x, w, (1,), "SAME", **kw) ** 2).sum()
    gx, gw = spmd.grad(functools.partial(loss, preferred_element_type=np.float32),
                       argnums=(0, 1))(x, w)
    want = spmd.grad(loss, argnums=(0, 1))(x.astype(np.float32), w.astype(np.float32))
    assert gx.dtype == gw.dtype == np.float16
    assert_close((gx, gw), tuple(np.asarray(g).astype(np.float16) for g in want))


def _transposed_conv_2d(x, w, strides):
    """The transposed convolution from its definition: every input element scatters a copy of
    the (flipped) kernel, scaled by it, at stride spacing (NHWC input, HWIO kernel); the output
    keeps Keras' size n*s + max(k - s, 0)."""
    (b, n0, n1, _), (k0, k1, _, o) = x.shape, w.shape
    (s0, s1) = strides
    full = np.zeros((b, (n0 - 1) * s0 + k0, (n1 - 1) * s1 + k1, o))
    flipped = w[::-1, ::-1]
    for i0 in range(n0):
        for i1 in range(n1):
            full[:, i0 * s0:i0 * s0 + k0, i1 * s1:i1 * s1 + k1] += np.einsum(
                "bc,hwco->bhwo", x[:, i0, i1], flipped)
    out = np.zeros((b, n0 * s0 + max(k0 - s0, 0), n1 * s1 + max(k1 - s1, 0), o))
    out[:, :full.shape[1], :full.shape[2]] = full
    return out


@pytest.mark.parametrize("strides, kernel", [((2, 1), (3, 2)), ((3, 1), (2, 2))])
def test_conv_transpose_valid_is_the_scatter(strides, kernel):
    x = rng.standard_normal((2, 3, 4, 2))
    w = rng.standard_normal(kernel + (2, 3))
    got = lax.conv_transpose(x, w, strides, "VALID")
    assert_close(got, _transposed_conv_2d(x, w, strides).astype(np.float32))


def test_conv_transpose_same_sizes_and_gradient_of_conv():
    """With transpose_kernel, conv_transpose is the gradient of the forward convolution with
    the same kernel, strides and padding (the reason it exists)."""
    dn = ("NHWC", "HWIO", "NHWC")
    x = rng.standard_normal((1, 4, 6, 2)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 5)).astype(np.float32)
    y, pullback = spmd.vjp(lambda x: lax.conv_general_dilated(x, w, (2, 3), "SAME",
                                                              dimension_numbers=dn), x)
    ct = rng.standard_normal(y.shape).astype(np.float32)
    got = lax.conv_transpose(ct, w, (2, 3), "SAME", dimension_numbers=dn, transpose_kernel=True)
    assert got.shape == x.shape  # Keras: n * s for 'SAME'
    assert_close(got, pullback(ct)[0])


def test_conv_under_jit_and_vmap_of_grad():
    """Per-example kernel gradients (vmap of grad) equal the loop."""
    x = rng.standard_normal((3, 1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)

    def loss(w, x):
        return spmd.numpy.sum(lax.conv(x, w, (1, 1), "SAME") ** 2)
    per_example = spmd.jit(spmd.vmap(spmd.grad(loss), in_axes=(None, 0)))(w, x)
    assert_close(per_example, np.stack([np.asarray(spmd.grad(loss)(w, xi)) for xi in x]),
                 rtol=1e-4, atol=1e-4)


MISUSES = [
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((1, 2, 2, 2)), (1,), "SAME"),
     TypeError, r"convolution needs operands of one rank, got lhs shape \(1, 2, 4\)"),
    (lambda: lax.conv(np.ones((1, 2, 4), np.float32), np.ones((1, 2, 2), np.int32), (1,), "SAME"),
     TypeError, "different dtypes float32 and int32; convert them first"),
    (lambda: lax.conv(np.ones((1, 3, 4)), np.ones((1, 2, 2)), (1,), "SAME"),
     ValueError, "input has 3 features, so with feature_group_count=1 the kernel's input "
                 "feature dimension must be 3, not 2"),
    (lambda: lax.conv_general_dilated(np.ones((1, 4, 4)), np.ones((4, 2, 2)), (1,), "SAME",
                                      feature_group_count=2, batch_group_count=2),
     ValueError, "at most one of feature_group_count"),
    (lambda: lax.conv_general_dilated(np.ones((3, 2, 4)), np.ones((4, 2, 2)), (1,), "SAME",
                                      batch_group_count=2),
     ValueError, r"batch_group_count 2 must divide the batch \(3\)"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1, 1), "SAME"),
     TypeError, r"window_strides \(1, 1\) must have one entry per spatial dimension \(1\)"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (0,), "SAME"),
     TypeError, r"window_strides \(0,\) must be positive"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1,), "FULL"),
     ValueError, "unknown padding 'FULL'"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1,), [1, 2]),
     TypeError, "padding must be 'SAME', 'VALID', 'SAME_LOWER' or a sequence of"),
    (lambda: lax.conv(np.ones((1, 2, 4), bool), np.ones((1, 2, 2), bool), (1,), "SAME"),
     TypeError, "does not take bool operands"),
    (lambda: lax.conv(np.ones((4,)), np.ones((2,)), (), "SAME"),
     TypeError, "operands of rank 2 or more"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1,), "SAME",
                                      dimension_numbers=("NCW", "OIH", "NCW")),
     TypeError, "must have the same letters"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1,), "SAME",
                                      dimension_numbers=("NCHW", "OIHW", "NCHW")),
     TypeError, r"one letter per dimension of the operands \(rank 3\)"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 4)), np.ones((1, 2, 2)), (1,), "SAME",
                                      dimension_numbers=("NWW", "OIW", "NCW")),
     TypeError, "must name each dimension once"),
    (lambda: lax.conv_transpose(np.ones((1,) * 6), np.ones((1,) * 6), (1,) * 4, "SAME"),
     ValueError, "default dimension_numbers for ranks 2 to 5 only, got rank 6"),
    (lambda: lax.conv_transpose(np.ones((1, 4, 2)), np.ones((2, 2, 3)), (1,), "FULL"),
     ValueError, "conv_transpose padding must be 'SAME', 'VALID'"),
]


@pytest.mark.parametrize("call, error, message", MISUSES)
def test_misuse_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
