"""PartitionSpec, Mesh and the shardings on their own: JAX's conventions, the block each
device holds (against NumPy slicing), placement of every dtype family and back, and the
current-mesh contexts."""
import numpy as np
import pytest

import spmd
from spmd.sharding import (AxisType, Mesh, NamedSharding, PartitionSpec as P,
                           SingleDeviceSharding)
from spmd.transforms import dtypes, tree_util
from spmd.transforms.lax.sharding_constraint import device_put_sharding
from spmd.transforms.mesh_placement import place
from tests.oracles import assert_close

MESH = spmd.make_mesh((2, 4), ("x", "y"))


def test_partition_spec_follows_jax_conventions():
    assert P("x", ("y",), ()) == P("x", "y", None) == ("x", "y", None)
    assert P(("x", "y")).axis_names_of(0) == ("x", "y") and P("x").axis_names_of(3) == ()
    assert repr(P("x", None)) == "PartitionSpec('x', None)" and repr(P()) == "PartitionSpec()"
    assert P("x") + ("y",) == P("x", "y") and len(P("x", None)) == 2
    assert tree_util.tree_leaves({"a": P("x", "y")}) == [P("x", "y")]  # a leaf, not a tuple
    assert hash(P("x", None)) == hash(P("x", None))
    with pytest.raises(TypeError, match="a mesh axis name or a tuple of names, got 3"):
        P(3)
    with pytest.raises(AttributeError, match="immutable"):
        P("x").foo = 1


def test_mesh_properties_and_contexts():
    assert MESH.shape == {"x": 2, "y": 4} and MESH.axis_sizes == (2, 4) and MESH.size == 8
    assert MESH.device_ids.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert MESH.axis_types == (AxisType.Explicit,) * 2  # make_mesh's default, as JAX 0.10.2
    assert Mesh(MESH.devices, ("x", "y")).axis_types == (AxisType.Auto,) * 2
    assert MESH == spmd.make_mesh((2, 4), ("x", "y")) and hash(MESH) == hash(MESH)
    assert spmd.sharding.get_mesh() is None
    with MESH as m:
        assert m is MESH and spmd.sharding.get_mesh() is MESH
        with spmd.set_mesh(None):
            assert spmd.sharding.get_mesh() is None
        assert spmd.sharding.get_mesh() is MESH
    assert spmd.sharding.get_mesh() is None
    try:
        spmd.set_mesh(MESH)  # as a call: for the process
        assert spmd.sharding.get_mesh() is MESH
    finally:
        spmd.set_mesh(None)
    with pytest.raises(ValueError, match="distinct"):
        Mesh(np.array([spmd.devices()[0]] * 2), "x")
    with pytest.raises(ValueError, match="one type per axis"):
        Mesh(MESH.devices, ("x", "y"), axis_types=(AxisType.Auto,))
    with pytest.raises(ValueError, match="expects an spmd.sharding.Mesh"):
        spmd.set_mesh("x")


@pytest.mark.parametrize("spec", [P("x", "y"), P("y", "x"), P(("y", "x")), P(None, "x"), P()])
def test_each_device_holds_the_block_of_numpy_slicing(spec):
    s = NamedSharding(MESH, spec)
    shape = (8, 8)
    value = np.arange(64, dtype=np.int32).reshape(shape)
    x = place(value, s)
    indices = s.devices_indices_map(shape)
    assert list(indices) == list(MESH.devices.flat)
    for shard in x.addressable_shards:
        assert shard.index == indices[shard.device]
        assert_close(shard.data, value[shard.index])
        assert shard.data.shape == s.shard_shape(shape)
    blocks = {tuple((sl.start, sl.stop) for sl in i) for i in indices.values()}
    assert len(blocks) * (8 // len(blocks)) == 8  # each block on mesh.size / blocks devices
    assert s.is_fully_replicated == (not spec.used_axis_names())
    assert_close(x, value)


@pytest.mark.parametrize("dtype", [np.float32, dtypes.bfloat16, np.float16, np.int8, np.uint32,
                                   np.bool_, np.complex64])
def test_every_dtype_family_is_placed_and_read_back(dtype):
    value = (np.arange(32).reshape(4, 8) % 3).astype(dtype)
    x = place(value, NamedSharding(MESH, P("x", "y")))
    assert x.dtype == value.dtype and np.array_equal(np.asarray(x), value)
    assert np.array_equal(np.asarray(x.addressable_data(7)), value[2:4, 6:8])


def test_shardings_compare_by_layout():
    assert NamedSharding(MESH, P("x")) == NamedSharding(MESH, P("x", None))
    assert NamedSharding(MESH, P("x")) != NamedSharding(MESH, P("y"))
    assert hash(NamedSharding(MESH, P("x"))) == hash(NamedSharding(MESH, P("x", None)))
    device = spmd.devices()[3]
    assert SingleDeviceSharding(device).device_set == {device}
    assert NamedSharding(MESH, P()).is_equivalent_to(NamedSharding(MESH, P(None)), 2)
    with pytest.raises(TypeError, match=r"must be a PartitionSpec, got \('x',\); write "
                                        r"PartitionSpec\('x',\)"):
        NamedSharding(MESH, ("x",))
    with pytest.raises(ValueError, match="uses mesh axis 'x' twice"):
        NamedSharding(MESH, P("x", "x"))


def test_device_put_sharding_places_values_and_constrains_traced_ones():
    tree = {"a": np.ones((8, 4), np.float32), "b": np.arange(4, dtype=np.int32)}
    placed = device_put_sharding(tree, {"a": NamedSharding(MESH, P("y")), "b": None})
    assert placed["a"].sharding == NamedSharding(MESH, P("y"))
    assert placed["b"] is tree["b"]
    out = spmd.jit(lambda t: device_put_sharding(t * 2, NamedSharding(MESH, P(None, "y"))))(
        tree["a"])
    assert out.sharding == NamedSharding(MESH, P(None, "y"))
    assert_close(out, 2 * tree["a"])
    one = place(placed["a"], SingleDeviceSharding(spmd.devices()[2]))
    assert one.devices() == {spmd.devices()[2]} and np.array_equal(np.asarray(one), tree["a"])
    with pytest.raises(TypeError, match="inside a traced function use "
                                        "lax.with_sharding_constraint"):
        spmd.jit(lambda v: place(v, NamedSharding(MESH, P("x"))))(tree["a"])


def test_pmap_results_read_as_named_shardings_over_their_devices():
    out = spmd.pmap(lambda v: v * 2)(np.arange(16.0, dtype=np.float32).reshape(8, 2))
    assert out.sharding.spec == P("_pmap_devices") and out.sharding.num_devices == 8
    assert [s.index[0] for s in out.addressable_shards] == [slice(i, i + 1) for i in range(8)]
    assert_close(out.addressable_data(3), np.array([[12.0, 14.0]], np.float32))
