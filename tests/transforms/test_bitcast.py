"""bitcast_convert_type against NumPy's `view`: equal widths, narrowing (a trailing axis
appears) and widening (it is consumed); eager, jit and vmap; no tangent; errors."""
import numpy as np
import pytest

import spmd
from oracles import check_mapped
from spmd.transforms import dtypes, lax

BF16 = dtypes.bfloat16

# (source dtype, target dtype, source shape)
CASES = [
    (np.float32, np.uint32, (3, 4)),
    (np.uint32, np.float32, (5,)),
    (np.float32, np.int32, (2, 3)),
    (np.float16, np.uint16, (4,)),
    (BF16, np.uint16, (4,)),
    (np.uint32, np.uint8, (3,)),
    (np.uint8, np.uint32, (3, 4)),
    (np.int16, np.uint8, (2, 3)),
]


def _source(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=tuple(shape) + (np.dtype(dtype).itemsize,), dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def _numpy_bitcast(x, new_dtype):
    new_dtype = np.dtype(new_dtype)
    old, new = x.dtype.itemsize, new_dtype.itemsize
    if old == new:
        return x.view(new_dtype)
    if old > new:
        return np.ascontiguousarray(x).view(new_dtype).reshape(x.shape + (old // new,))
    return np.ascontiguousarray(x).view(new_dtype).reshape(x.shape[:-1])


@pytest.mark.parametrize("src,dst,shape", CASES)
def test_bitcast_matches_numpy_view(src, dst, shape):
    x = _source(src, shape)
    expected = _numpy_bitcast(x, dst)
    for f in (lambda v: lax.bitcast_convert_type(v, dst),
              spmd.jit(lambda v: lax.bitcast_convert_type(v, dst))):
        out = np.asarray(f(x))
        assert out.dtype == np.dtype(dst) and out.shape == expected.shape
        np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("src,dst,shape", CASES)
def test_bitcast_vmap_equals_loop(src, dst, shape):
    xs = np.stack([_source(src, shape, seed) for seed in range(3)])
    f = lambda v: lax.bitcast_convert_type(v, dst)  # noqa: E731
    check_mapped(spmd.vmap(f), f, (xs,))
    moved = np.moveaxis(xs, 0, -1)  # the batch axis last: away from the axis that changes
    check_mapped(spmd.vmap(f, in_axes=-1), f, (moved,), in_axes=-1)


def test_bitcast_carries_no_tangent():
    f = lambda x: lax.bitcast_convert_type(lax.bitcast_convert_type(x, np.uint32),  # noqa: E731
                                           np.float32)
    x = np.array([1.5, -2.0], np.float32)
    out, tangent = spmd.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(np.asarray(out), x)
    np.testing.assert_array_equal(np.asarray(tangent), np.zeros_like(x))


@pytest.mark.parametrize("x,dst,match", [
    (np.zeros(3, np.bool_), np.uint8, "to or from bool"),
    (np.zeros((3, 2), np.uint8), np.uint32, r"trailing axis of size 4.*shape \(3, 2\)"),
    (np.zeros((), np.uint16), np.float32, r"trailing axis of size 2"),
])
def test_bitcast_errors(x, dst, match):
    with pytest.raises(TypeError, match=match):
        lax.bitcast_convert_type(x, dst)
