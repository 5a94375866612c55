"""vmap(f, spmd_axis_name=...) inside jit over a mesh, as in JAX: the mapped dimension is split
over that mesh axis in the shard_maps and sharding constraints inside. Values against the
unbatched function looped over the batch; layouts against the PartitionSpec the rule gives."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import P, lax
from tests.oracles import assert_close

MESH = spmd.make_mesh((4, 2), ("data", "model"), axis_types=(spmd.sharding.AxisType.Auto,) * 2)
RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def _loop(f, xs, axis=0):
    return np.stack([np.asarray(f(x)) for x in np.moveaxis(xs, axis, 0)], axis)


def _constrained(a):
    # sin keeps the mapped dimension where in_axes put it, so the constraint sees it there
    return lax.with_sharding_constraint(jnp.sin(a), spmd.NamedSharding(MESH, P(None, "model")))


@pytest.mark.parametrize("spmd_axis_name, entry", [("data", '{"data"}'),
                                                   (("data",), '{"data"}')])
@pytest.mark.parametrize("in_axes", [0, 1])
def test_sharding_constraint_splits_the_mapped_dimension(spmd_axis_name, entry, in_axes):
    xs = _normal(8, 3, 4) if in_axes == 0 else _normal(3, 8, 4)
    f = spmd.jit(spmd.vmap(_constrained, in_axes=in_axes, out_axes=in_axes,
                           spmd_axis_name=spmd_axis_name))
    text = f.lower(xs).as_text()
    dims = [entry, "{}", '{"model"}'] if in_axes == 0 else ["{}", entry, '{"model"}']
    assert f"sdy.sharding_constraint %0 <@mesh, [{', '.join(dims)}]>" in text
    assert_close(f(xs), _loop(np.sin, xs, in_axes), rtol=1e-5)
    # with no spmd_axis_name the mapped dimension is left whole
    plain = spmd.jit(spmd.vmap(_constrained, in_axes=in_axes, out_axes=in_axes)).lower(xs)
    assert 'sdy.sharding_constraint %0 <@mesh, [{}, {}, {"model"}]>' in plain.as_text()


def test_shard_map_gets_the_mapped_dimension_over_the_axis():
    w = _normal(4, 6)

    def step(x, w):  # per device: a block of rows times the model-split columns of w
        return spmd.shard_map(lambda a, b: jnp.tanh(a @ b), mesh=MESH,
                              in_specs=(P(), P(None, "model")), out_specs=P(None, "model"))(x, w)
    xs = _normal(8, 5, 4)
    f = spmd.jit(spmd.vmap(step, in_axes=(0, None), spmd_axis_name="data"))
    text = f.lower(xs, w).as_text()
    # the batch is split over 'data': each device maps over 8 / 4 = 2 elements of it
    assert "in_shardings=[<@mesh, [{\"data\"}, {}, {}]>" in text
    assert "tensor<2x5x4xf32>" in text
    expected = _loop(lambda x: np.tanh(x @ w), xs)
    for out in (f(xs, w), spmd.vmap(step, in_axes=(0, None), spmd_axis_name="data")(xs, w)):
        assert_close(out, expected, rtol=1e-5)  # in jit and eager (jitted over the mesh)
        assert out.sharding.spec == P("data", None, "model")


def test_misuses_are_refused_with_the_reason():
    xs = _normal(8, 4)
    split = spmd.shard_map(lambda a: a * 2, mesh=MESH, in_specs=P("data"), out_specs=P("data"))
    with pytest.raises(ValueError, match=r"spmd_axis_name 'data' cannot appear in the specs"):
        spmd.jit(spmd.vmap(split, spmd_axis_name="data"))(xs)
    whole = spmd.shard_map(lambda a: a * 2, mesh=MESH, in_specs=P(), out_specs=P())
    with pytest.raises(ValueError, match=r"mapped size 6 is not divisible by the 4 devices"):
        spmd.jit(spmd.vmap(whole, spmd_axis_name="data"))(_normal(6, 4))
    with pytest.raises(ValueError, match=r"spmd_axis_name 'nope' is not a manual axis"):
        spmd.jit(spmd.vmap(whole, spmd_axis_name="nope"))(xs)
    summed = spmd.shard_map(lambda a: lax.psum(a, "b"), mesh=MESH, in_specs=P(), out_specs=P())
    with pytest.raises(NotImplementedError, match=r"collective over vmap's axis 'b' inside"):
        spmd.jit(spmd.vmap(summed, axis_name="b", spmd_axis_name="data"))(xs)
