"""The Array methods JAX 0.10.2's ArrayImpl has beyond the reductions and reshapes: view and
byteswap against NumPy's own (the same bits on a little-endian host), and the methods that are
spmd.numpy functions (argpartition, choose, compress, searchsorted) against NumPy."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp

RNG = np.random.default_rng(0)
SOURCES = {
    "int8": RNG.integers(-100, 100, (2, 8)).astype(np.int8),
    "uint16": RNG.integers(0, 60000, (2, 4)).astype(np.uint16),
    "float32": RNG.standard_normal((2, 4)).astype(np.float32),
    "bfloat16": RNG.standard_normal((2, 4)).astype(spmd.dtypes.bfloat16),
    "complex64": (RNG.standard_normal((2, 2)) + 1j * RNG.standard_normal((2, 2))).astype(
        np.complex64),
    "bool": RNG.integers(0, 2, (2, 8)).astype(np.bool_),
}
TARGETS = [np.int8, np.uint8, np.int16, np.float16, spmd.dtypes.bfloat16, np.uint32,
           np.float32, np.complex64, np.bool_]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_view_is_numpys_view(source):
    x = SOURCES[source]
    for dtype in TARGETS:
        if dtype == np.bool_ and x.dtype != np.bool_:
            continue  # only 0/1 bytes view as bool predictably, as JAX documents
        expected = x.view(dtype)
        out = jnp.asarray(x).view(dtype)
        assert out.dtype == np.dtype(dtype) and out.shape == expected.shape, dtype
        np.testing.assert_array_equal(np.asarray(out).view(np.uint8), expected.view(np.uint8))


def test_view_of_scalars_under_jit_and_its_errors():
    np.testing.assert_array_equal(np.asarray(jnp.asarray(np.float32(2.0)).view(np.int32)),
                                  np.float32(2.0).view(np.int32))
    f = spmd.jit(lambda x: x.view(np.uint8))
    x = np.arange(3, dtype=np.int16)
    np.testing.assert_array_equal(np.asarray(f(x)), x.view(np.uint8))
    assert jnp.asarray(x).view().dtype == np.int16
    with pytest.raises(ValueError, match="view\\(\\) of a 0d array is only supported if the "
                                         "itemsize is unchanged"):
        jnp.asarray(np.int16(1)).view(np.int32)
    with pytest.raises(ValueError, match="When changing to a larger dtype, its size must be a "
                                         "divisor of the total size in bytes of the last axis"):
        jnp.asarray(x).view(np.int32)
    with pytest.raises(NotImplementedError, match="`type` argument of array.view"):
        jnp.asarray(x).view(np.int16, type=np.ndarray)


@pytest.mark.parametrize("source", ["int8", "uint16", "float32", "complex64"])
def test_byteswap_is_numpys_and_undoes_itself(source):
    x = SOURCES[source]
    out = jnp.asarray(x).byteswap()
    np.testing.assert_array_equal(np.asarray(out).view(np.uint8), x.byteswap().view(np.uint8))
    np.testing.assert_array_equal(np.asarray(out.byteswap()), x)


def test_methods_that_are_numpy_functions():
    x = np.array([3.0, -1.0, 4.0, 1.5, 9.0, 2.0], np.float32)
    a = jnp.asarray(x)
    part = np.asarray(a.argpartition(2))
    assert sorted(x[part[:2]]) == sorted(np.sort(x)[:2]) and x[part[2]] == np.sort(x)[2]
    np.testing.assert_array_equal(np.asarray(a.compress(x > 2)), x.compress(x > 2))
    s = np.sort(x)
    np.testing.assert_array_equal(np.asarray(jnp.asarray(s).searchsorted(2.5, side="right")),
                                  s.searchsorted(2.5, side="right"))
    idx, choices = np.array([0, 2, 1]), np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(np.asarray(jnp.asarray(idx).choose(jnp.asarray(choices))),
                                  idx.choose(choices))
    assert a.__array_namespace__() is jnp
    moved = a.to_device(spmd.devices()[-1])
    assert moved.devices() == {spmd.devices()[-1]}
    np.testing.assert_array_equal(np.asarray(moved), x)
    with pytest.raises(NotImplementedError, match="do not implement the arr.flat property"):
        a.flat  # noqa: B018
