"""reshard (JAX 0.10.2's jax.reshard / jax.sharding.reshard) and with_sharding_constraint on 8
CPU devices: eagerly a value is moved to the layout asked for, under jit the layout is a
constraint the partitioner honours; values equal NumPy's, and the misuses are named."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P
from tests.oracles import assert_close

MESH = spmd.make_mesh((2, 4), ("x", "y"))  # Explicit axes: make_mesh's default, as in JAX
AUTO = Mesh(MESH.devices, ("x", "y"), axis_types=(AxisType.Auto,) * 2)
A = np.arange(32, dtype=np.float32).reshape(8, 4) / 7


def on(mesh, *spec):
    return NamedSharding(mesh, P(*spec))


def _as_given(sharding, spec_form):
    """The same target written as a NamedSharding, or as a bare PartitionSpec (which needs a
    current mesh: the caller enters one)."""
    return sharding.spec if spec_form else sharding


@pytest.mark.parametrize("spec_form", [False, True], ids=["NamedSharding", "PartitionSpec"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_reshard_of_values_moves_them_and_keeps_their_values(dtype, spec_form):
    a = (A * 7).astype(dtype)
    x = spmd.device_put(a, on(MESH, "x"))
    target = on(MESH, None, "y")
    with spmd.set_mesh(MESH):
        y = spmd.reshard(x, _as_given(target, spec_form))
        from_host = spmd.sharding.reshard(a, _as_given(on(MESH, ("x", "y")), spec_form))
    assert y.sharding == target and from_host.sharding == on(MESH, ("x", "y"))
    assert_close(y, a)
    assert_close(from_host, a)
    for shard in y.addressable_shards:  # each device holds its own block of the new layout
        assert_close(shard.data, a[shard.index])


def test_reshard_of_a_pytree_takes_a_prefix_of_shardings():
    tree = {"a": A, "b": (A[:, 0], A.T)}
    out = spmd.reshard(tree, {"a": on(MESH, "x"), "b": on(MESH, "y")})
    assert out["a"].sharding == on(MESH, "x")
    assert [v.sharding for v in out["b"]] == [on(MESH, "y")] * 2
    assert_close(out, tree)


@pytest.mark.parametrize("constrain", ["reshard", "with_sharding_constraint"])
@pytest.mark.parametrize("spec_form", [False, True], ids=["NamedSharding", "PartitionSpec"])
def test_under_jit_the_layout_constrains_the_partitioned_program(constrain, spec_form):
    fn = spmd.reshard if constrain == "reshard" else spmd.lax.with_sharding_constraint
    target = on(MESH, "y", "x")

    def f(v):
        h = fn(jnp.sin(v) * 2, _as_given(target, spec_form))  # a value inside: no argument
        return h, jnp.sum(h, axis=0)
    jitted = spmd.jit(f)
    with spmd.set_mesh(MESH):
        text = jitted.lower(A).as_text()
        h, total = jitted(A)
    assert 'sdy.sharding_constraint' in text and '[{"y"}, {"x"}]' in text
    assert h.sharding == target  # the partitioner kept the constrained layout for the result
    assert_close(h, np.sin(A) * 2, rtol=1e-6, atol=1e-6)
    assert_close(total, (np.sin(A) * 2).sum(0), rtol=1e-5, atol=1e-5)


def test_with_sharding_constraint_of_values_places_them():
    y = spmd.lax.with_sharding_constraint(A, on(MESH, "x", "y"))
    with MESH:
        z = spmd.lax.with_sharding_constraint(y, P(None, "x"))
    assert y.sharding == on(MESH, "x", "y") and z.sharding == on(MESH, None, "x")
    assert_close(z, A)


def test_reshard_under_grad_and_vmap():
    def loss(w):
        h = spmd.reshard(jnp.tanh(w * 3), on(MESH, "x"))
        return jnp.sum(h * h)
    g = spmd.jit(spmd.grad(loss))(A)
    t = np.tanh(A * 3)
    assert_close(g, 6 * t * (1 - t * t), rtol=1e-4, atol=1e-4)
    eager = spmd.grad(lambda w: jnp.sum(spmd.reshard(w * w, on(MESH, "x"))))(A)
    assert_close(eager, 2 * A)
    # the mapped dimension is added unsplit: each row (4,) split over 'y'
    batched = spmd.jit(spmd.vmap(lambda r: spmd.reshard(r + 1, on(MESH, "y"))))(A)
    assert_close(batched, A + 1)


def test_reshard_misuses_are_named():
    with pytest.raises(ValueError, match="reshard needs a NamedSharding or a PartitionSpec for "
                                         "every value, got None"):
        spmd.reshard(A, None)
    with pytest.raises(ValueError, match=r"reshard: a bare PartitionSpec\('x'\) needs a "
                                         "current mesh"):
        spmd.reshard(A, P("x"))
    with pytest.raises(TypeError, match="reshard takes NamedShardings or PartitionSpecs"):
        spmd.reshard(A, spmd.sharding.SingleDeviceSharding(spmd.devices()[0]))
    with pytest.raises(ValueError, match="reshard splits only over Explicit mesh axes, but "
                                         r"PartitionSpec\('x'\) names axis 'x', which is Auto"):
        spmd.reshard(A, on(AUTO, "x"))
    assert spmd.reshard(A, on(AUTO)).sharding == on(AUTO)  # no axis named: any mesh will do
    with pytest.raises(ValueError, match=r"dimension 1 \(size 4\) is not divisible by mesh "
                                         r"axis 'x' \(size 2\) x 'y' \(size 4\)"):
        spmd.jit(lambda v: spmd.reshard(v, on(MESH, None, ("x", "y"))))(A)
    with pytest.raises(ValueError, match="names mesh axis 'z', which the mesh lacks"):
        with spmd.set_mesh(MESH):
            spmd.reshard(A, P("z"))
