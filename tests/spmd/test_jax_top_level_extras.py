"""jax.dtypes' remaining names, the modules jax.dlpack, jax.typing and
jax.custom_derivatives, and Device, Shard, live_arrays, copy_to_host_async, effects_barrier."""
import ml_dtypes
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import dtypes


# ---------------------------------------------------------------- jax.dtypes
@pytest.mark.parametrize("dtype, bits", [
    (np.bool_, 8), (np.int8, 8), (np.uint16, 16), (np.int32, 32), (np.uint64, 64),
    (ml_dtypes.bfloat16, 16), (np.float16, 16), (np.float32, 32), (np.float64, 64),
    (np.complex64, 64), (np.complex128, 128)])
def test_itemsize_bits_against_numpy(dtype, bits):
    assert dtypes.itemsize_bits(dtype) == bits == 8 * np.dtype(dtype).itemsize


def test_itemsize_bits_refuses_what_is_not_a_number_type():
    with pytest.raises(ValueError, match="dtype cannot be None"):
        dtypes.itemsize_bits(None)
    with pytest.raises(ValueError, match="unexpected input: dtype="):
        dtypes.itemsize_bits(np.dtype("U3"))


@pytest.mark.parametrize("value, scalar", [
    (True, bool), (np.bool_(False), bool), (3, int), (np.uint8(3), int), (2.5, float),
    (np.float16(1), float), (1j, complex), (np.ones(2, np.complex64), complex)])
def test_scalar_type_of_host_values(value, scalar):
    assert dtypes.scalar_type_of(value) is scalar


def test_scalar_type_of_arrays_and_traced_values():
    assert dtypes.scalar_type_of(jnp.ones(2, jnp.bfloat16)) is float
    assert dtypes.scalar_type_of(jnp.ones(2, jnp.int8)) is int
    seen = []
    spmd.jit(lambda x: seen.append(dtypes.scalar_type_of(x)) or x)(jnp.ones(2, bool))
    assert seen == [bool]


def test_typed_keys_are_of_kind_prng_key_and_extended():
    for impl in ("threefry2x32", "rbg"):
        key = spmd.random.key(0, impl=impl)
        assert jnp.issubdtype(key.dtype, dtypes.prng_key)
        assert jnp.issubdtype(key.dtype, dtypes.extended)
        assert not jnp.issubdtype(key.dtype, np.floating)
    for dtype in (np.float32, np.uint32, ml_dtypes.bfloat16):
        assert not jnp.issubdtype(dtype, dtypes.prng_key)
        assert not jnp.issubdtype(dtype, dtypes.extended)
    assert issubclass(dtypes.prng_key, dtypes.extended)
    assert issubclass(dtypes.extended, np.generic)


# ---------------------------------------------------------------- modules
def test_custom_derivatives_module_holds_the_same_objects():
    from spmd import custom_derivatives
    assert custom_derivatives.custom_jvp is spmd.custom_jvp
    assert custom_derivatives.custom_vjp is spmd.custom_vjp
    assert custom_derivatives.custom_gradient is spmd.custom_gradient
    assert custom_derivatives.closure_convert is spmd.closure_convert


def test_typing_names_accept_what_spmd_functions_take():
    from spmd.typing import ArrayLike, DTypeLike
    for value in (jnp.ones(2), np.ones(2), np.float32(1), 1, 2.0, True, 1j, spmd.random.key(0)):
        assert isinstance(value, ArrayLike)
    assert not isinstance([1.0], ArrayLike) and not isinstance("x", ArrayLike)
    assert str in DTypeLike.__args__ and np.dtype in DTypeLike.__args__


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint32, np.complex64, np.float16])
def test_dlpack_round_trip_with_numpy(dtype):
    host = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    x = spmd.dlpack.from_dlpack(host)
    assert x.dtype == np.dtype(dtype) and x.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(x), host)
    np.testing.assert_array_equal(np.from_dlpack(x + x), host + host)
    assert spmd.dlpack.is_supported_dtype(dtype)


@pytest.mark.parametrize("dtype", [np.bool_, ml_dtypes.bfloat16])
def test_dlpack_of_types_numpy_cannot_export_goes_spmd_to_spmd(dtype):
    x = jnp.asarray(np.array([1, 0, 1]).astype(dtype))
    y = spmd.dlpack.from_dlpack(x)
    assert y.dtype == np.dtype(dtype) and spmd.dlpack.is_supported_dtype(dtype)
    np.testing.assert_array_equal(np.asarray(y), np.array([1, 0, 1]).astype(dtype))
    np.testing.assert_array_equal(np.asarray(y.astype(np.float32) * 2), [2.0, 0.0, 2.0])


def test_dlpack_of_an_array_spread_over_devices_is_its_whole_value():
    stacked = spmd.pmap(lambda v: v * 2)(jnp.arange(4.0).reshape(4, 1))
    np.testing.assert_array_equal(np.from_dlpack(stacked), 2 * np.arange(4.0).reshape(4, 1))


def test_from_dlpack_copies_places_and_narrows_as_asked():
    host = np.arange(256, dtype=np.float32)
    copied = spmd.dlpack.from_dlpack(host, copy=True)
    host[0] = 99.0
    assert float(copied[0]) == 0.0  # a copy does not see later writes
    on_2 = spmd.dlpack.from_dlpack(np.ones(3, np.float32), device=spmd.devices()[2])
    assert on_2.devices() == {spmd.devices()[2]}
    narrowed = spmd.dlpack.from_dlpack(np.arange(3, dtype=np.float64))  # x64 off
    assert narrowed.dtype == np.float32
    np.testing.assert_array_equal(narrowed, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"requires a copy since the source device is .* "
                                         r"however copy=False"):
        spmd.dlpack.from_dlpack(np.ones(3, np.float32), device=spmd.devices()[1], copy=False)
    with pytest.raises(TypeError, match="must have __dlpack__ and __dlpack_device__ methods"):
        spmd.dlpack.from_dlpack([1.0, 2.0])
    assert not spmd.dlpack.is_supported_dtype(np.dtype("U2"))
    with pytest.raises(TypeError, match="Expected a string or dtype-like object; got dtype=None"):
        spmd.dlpack.is_supported_dtype(None)


# ---------------------------------------------------------------- arrays and effects
def test_device_and_shard_types():
    assert all(isinstance(d, spmd.Device) for d in spmd.devices())
    mesh = spmd.sharding.Mesh(np.array(spmd.devices()[:4]), ("i",))
    x = spmd.device_put(jnp.arange(8.0), spmd.NamedSharding(mesh, spmd.P("i")))
    shards = x.addressable_shards
    assert all(isinstance(s, spmd.Shard) for s in shards)
    np.testing.assert_array_equal(np.concatenate([np.asarray(s.data) for s in shards]),
                                  np.arange(8.0))


def test_live_arrays_lists_what_is_held_and_forgets_what_is_deleted():
    x = jnp.arange(5.0) * 3
    assert any(a is x for a in spmd.live_arrays())
    x.delete()
    assert not any(a is x for a in spmd.live_arrays("cpu"))
    with pytest.raises(ValueError, match="platform must be None or 'cpu', got 'gpu'"):
        spmd.live_arrays("gpu")


def test_copy_to_host_async_leaves_values_as_they_are():
    tree = {"a": jnp.arange(3.0), "b": [jnp.ones(2, jnp.int32), "not an array"]}
    assert spmd.copy_to_host_async(tree) is tree
    assert tree["a"].copy_to_host_async() is None
    np.testing.assert_array_equal(tree["a"], np.arange(3.0))
    y = jnp.ones(2)
    y.delete()
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        y.copy_to_host_async()


def test_effects_barrier_waits_for_the_callbacks_of_every_launched_program():
    seen = []
    f = spmd.jit(lambda x: spmd.debug.callback(lambda v: seen.append(float(v.sum())), x))
    for i in range(20):
        f(jnp.full((64,), float(i)))
    spmd.effects_barrier()
    assert sorted(seen) == [64.0 * i for i in range(20)]
