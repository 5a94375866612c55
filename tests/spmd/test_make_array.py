"""make_array_from_callback / _single_device_arrays / _process_local_data and
experimental.multihost_utils in one process (8 CPU devices): the Array built holds, on each
device, the block of the NumPy value its sharding's index names; the misuses are named.
Across processes: tests/spmd/test_mesh_multiprocess.py."""
import numpy as np
import pytest

import spmd
from spmd.experimental import multihost_utils
from spmd.sharding import NamedSharding, PartitionSpec as P, SingleDeviceSharding

MESH = spmd.make_mesh((2, 4), ("x", "y"))
VALUE = np.arange(8 * 16, dtype=np.int32).reshape(8, 16)
SPECS = [P("x", "y"), P("y"), P(None, ("x", "y")), P()]


def check_blocks(array, value, sharding):
    """Each device's block is value[index], and the whole equals value."""
    assert array.shape == value.shape and array.dtype == value.dtype
    assert array.sharding == sharding
    indices = sharding.devices_indices_map(value.shape)
    assert len(array.addressable_shards) == len(indices)
    for shard in array.addressable_shards:
        assert shard.index == indices[shard.device]
        np.testing.assert_array_equal(np.asarray(shard.data), value[shard.index])
    np.testing.assert_array_equal(np.asarray(array), value)


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_make_array_from_callback_puts_each_index_block(spec, dtype):
    value = (VALUE % 3).astype(dtype)
    sharding = NamedSharding(MESH, spec)
    seen = []

    def block(index):
        seen.append(index)
        return value[index]
    x = spmd.make_array_from_callback(value.shape, sharding, block)
    check_blocks(x, value, sharding)
    # a replicated layout asks once; a split one once per device
    assert len(seen) == (1 if sharding.is_fully_replicated else 8)


def test_make_array_from_callback_on_one_device_and_with_a_dtype():
    device = spmd.devices()[3]
    x = spmd.make_array_from_callback((2, 3), SingleDeviceSharding(device),
                                      lambda index: np.ones((2, 3), np.float32), dtype="float32")
    assert x.sharding == SingleDeviceSharding(device) and np.asarray(x).sum() == 6


def test_make_array_from_single_device_arrays_takes_them_in_any_order():
    sharding = NamedSharding(MESH, P("x", "y"))
    pairs = list(sharding.addressable_devices_indices_map(VALUE.shape).items())
    arrays = [spmd.device_put(VALUE[index], device) for device, index in reversed(pairs)]
    check_blocks(spmd.make_array_from_single_device_arrays(VALUE.shape, sharding, arrays),
                 VALUE, sharding)


@pytest.mark.parametrize("spec", [P("x"), P()], ids=str)
def test_make_array_from_process_local_data_is_device_put_in_one_process(spec):
    sharding = NamedSharding(MESH, spec)
    tree = {"a": VALUE.astype(np.float32), "b": [VALUE[:4].astype(np.int32)]}
    out = spmd.make_array_from_process_local_data(sharding, tree, global_shape=None)
    check_blocks(out["a"], tree["a"], sharding)
    check_blocks(out["b"][0], tree["b"][0], sharding)
    one = spmd.make_array_from_process_local_data(sharding, VALUE, VALUE.shape)
    check_blocks(one, VALUE.astype(np.int32), sharding)


def test_process_allgather_in_one_process_stacks_or_tiles_and_reads_arrays_whole():
    x = spmd.device_put(VALUE.astype(np.float32), NamedSharding(MESH, P("x", "y")))
    out = multihost_utils.process_allgather({"x": x, "n": np.arange(3)})
    np.testing.assert_array_equal(out["x"], VALUE[None])  # fully addressable: this process's
    np.testing.assert_array_equal(out["n"], np.arange(3)[None])
    np.testing.assert_array_equal(multihost_utils.process_allgather(np.arange(3), tiled=True),
                                  np.arange(3))
    multihost_utils.sync_global_devices("alone")  # returns at once


def test_host_local_and_global_arrays_are_the_same_in_one_process():
    tree = {"a": VALUE, "b": [VALUE[:4]]}
    out = multihost_utils.host_local_array_to_global_array(tree, MESH, P("x", "y"))
    check_blocks(out["b"][0], VALUE[:4], NamedSharding(MESH, P("x", "y")))
    back = multihost_utils.global_array_to_host_local_array(out, MESH, {"a": P("y"), "b": P()})
    check_blocks(back["a"], VALUE, NamedSharding(MESH, P("y")))
    check_blocks(back["b"][0], VALUE[:4], NamedSharding(MESH, P()))


def test_misuses_are_named():
    sharding = NamedSharding(MESH, P("x", "y"))
    with pytest.raises(ValueError, match=r"expected shard shape \(4, 4\) doesn't match the "
                                         r"callback's result for .* of shape \(4, 5\)"):
        spmd.make_array_from_callback(VALUE.shape, sharding, lambda i: np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"dimension 1 \(size 10\) is not divisible by mesh "
                                         r"axis 'y' \(size 4\)"):
        spmd.make_array_from_callback((8, 10), sharding, lambda i: np.zeros((4, 5)))
    with pytest.raises(ValueError, match="must match the dtype of the addressable shards. Got "
                                         "dtype=int32 and shard dtype=float32"):
        spmd.make_array_from_callback((8, 16), sharding, lambda i: np.zeros((4, 4), np.float32),
                                      dtype=np.int32)
    with pytest.raises(TypeError, match="sharding should be an instance of `spmd.sharding`"):
        spmd.make_array_from_callback((8, 16), P("x"), lambda i: np.zeros((4, 5)))
    arrays = [spmd.device_put(np.zeros((4, 4)), d) for d in spmd.devices()]
    with pytest.raises(ValueError, match=r"needs one array on each device of .* but got 7"):
        spmd.make_array_from_single_device_arrays((8, 16), sharding, arrays[:7])
    with pytest.raises(ValueError, match=r"arrays\[1\] is on .*like an earlier one"):
        spmd.make_array_from_single_device_arrays((8, 16), sharding, [arrays[0]] * 8)
    with pytest.raises(TypeError, match="`arrays` argument must be a list or tuple"):
        spmd.make_array_from_single_device_arrays((8, 16), sharding, iter(arrays))
    with pytest.raises(ValueError, match=r"single process, global_shape should be None or equal "
                                         r"to local_data.shape. Got global_shape=\(16, 16\)"):
        spmd.make_array_from_process_local_data(sharding, VALUE, (16, 16))
