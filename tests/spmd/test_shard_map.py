"""shard_map on 8 CPU devices against NumPy: elementwise, matmuls sharded on each axis, a
reduction over a sharded axis, every collective of tests/collectives/cases.py over one mesh
axis, over each axis of a 2-D mesh and over a tuple of axes, grad of training losses (data
parallel; data x model with tensor-parallel weights) against closed forms and the single-device
program, vmap of a shard_map against the loop, and the misuses' messages."""
import numpy as np
import pytest

import spmd
import spmd.experimental.shard_map
import spmd.numpy as jnp
from spmd import P, lax
from tests.collectives.cases import CASES, random_input
from tests.oracles import assert_close

MESH_1D = spmd.make_mesh((8,), ("x",))
MESH_2D = spmd.make_mesh((4, 2), ("data", "model"))
RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------- values
def test_elementwise_on_a_2d_mesh_eager_and_in_jit():
    x = _normal(8, 6)
    f = spmd.shard_map(lambda a: jnp.sin(a) * 2 + 1, mesh=MESH_2D,
                       in_specs=P("data", "model"), out_specs=P("data", "model"))
    out = f(x)  # outside jit: jitted over the mesh, the result laid out as out_specs says
    assert_close(out, np.sin(x) * 2 + 1)
    assert out.sharding == spmd.NamedSharding(MESH_2D, P("data", "model"))
    # nested in jit, after and before other sharded code
    g = spmd.jit(lambda a: f(spmd.sharding.with_sharding_constraint(
        a * 3, spmd.NamedSharding(MESH_2D, P("data")))) - 1)
    assert_close(g(x), np.sin(3 * x) * 2)


@pytest.mark.parametrize("axis", ["rows", "columns", "contraction"])
def test_matmul_sharded_on_each_axis(axis):
    a, b = _normal(8, 16), _normal(16, 8)
    specs = {"rows": ((P("x"), P()), P("x"), lambda u, v: u @ v),
             "columns": ((P(), P(None, "x")), P(None, "x"), lambda u, v: u @ v),
             # partial products of the contracted blocks, summed over the devices
             "contraction": ((P(None, "x"), P("x")), P(), lambda u, v: lax.psum(u @ v, "x"))}
    in_specs, out_specs, body = specs[axis]
    f = spmd.shard_map(body, mesh=MESH_1D, in_specs=in_specs, out_specs=out_specs)
    assert_close(f(a, b), a @ b)


def test_reduction_over_a_sharded_axis():
    x = _normal(16, 3)
    f = spmd.shard_map(lambda a: (lax.psum(a.sum(0), "x"), lax.pmax(a.max(0), "x")),
                       mesh=MESH_1D, in_specs=P("x"), out_specs=P())
    assert_close(f(x), (x.sum(0), x.max(0)))


def _run_cases(mesh, axes, oracle, group_size):
    """Every collective case (and dtype) in one shard_map over `axes` (`group_size`
    participants): device k (in mesh order) holds row k of its input; `oracle(case, X)`."""
    rng = np.random.default_rng(1)
    cases = [(case, dtype, random_input(rng, (mesh.size,) + case.shape(group_size), dtype))
             for case in CASES for dtype in case.dtypes]
    spec = P(tuple(mesh.axis_names))

    def body(*blocks):
        return [lax.expand_dims(case.fun(lax.squeeze(b, (0,)), axes, None), (0,))
                for (case, _, _), b in zip(cases, blocks)]
    f = spmd.shard_map(body, mesh=mesh, in_specs=spec, out_specs=spec)
    outs = f(*[X for _, _, X in cases])
    for (case, dtype, X), out in zip(cases, outs):
        try:
            assert_close(out, oracle(case, X))
        except AssertionError as e:
            raise AssertionError(f"{case} ({np.dtype(dtype).name}) over {axes}: {e}") from None


def test_every_collective_over_a_1d_mesh():
    _run_cases(MESH_1D, "x", lambda case, X: case.oracle(X, None), 8)


@pytest.mark.parametrize("axes", [("data", "model"), "data", "model"])
def test_every_collective_over_a_2d_mesh(axes):
    if isinstance(axes, tuple):  # the linear index over both is the device's mesh position
        _run_cases(MESH_2D, axes, lambda case, X: case.oracle(X, None), 8)
        return
    along = MESH_2D.axis_names.index(axes)

    def oracle(case, X):  # each line of devices along `axes` on its own, put back in place
        grid = X.reshape((4, 2) + X.shape[1:])
        lines = np.moveaxis(grid, along, 0)
        outs = [case.oracle(lines[:, j], None) for j in range(lines.shape[1])]
        return np.moveaxis(np.stack(outs, 1), 0, along).reshape((8,) + outs[0].shape[1:])
    _run_cases(MESH_2D, axes, oracle, MESH_2D.shape[axes])


def test_one_manual_computation_whose_collectives_name_devices_on_channels():
    # a psum inside a jit inside the body: check_vma sees the result is the same everywhere
    f = spmd.shard_map(lambda a: spmd.jit(lambda b: lax.psum(b * 2, "x"))(a), mesh=MESH_1D,
                       in_specs=P("x"), out_specs=P())
    x = _normal(16)
    text = spmd.jit(f).lower(x).as_text()
    assert text.count("sdy.manual_computation") == 1
    # a host argument goes to the devices as the shard_map reads it (each its block)
    assert '%arg0: tensor<16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"x"}]>}' in text
    assert "replica_groups = dense<[[0, 1, 2, 3, 4, 5, 6, 7]]>" in text
    assert "use_global_device_ids" in text and "channel_handle" in text
    assert_close(f(x), 2 * x.reshape(8, 2).sum(0), rtol=1e-5)


def test_partially_manual_axis_names_and_nesting():
    x = _normal(8, 4)
    f = spmd.shard_map(lambda a: lax.psum(a, "data"), mesh=MESH_2D, in_specs=P("data"),
                       out_specs=P(), axis_names={"data"})
    assert_close(spmd.jit(f)(x), x.reshape(4, 2, 4).sum(0), rtol=1e-5)
    # a shard_map over 'model' inside one over 'data'
    inner = spmd.shard_map(lambda b: lax.psum(b, "model"), mesh=MESH_2D,
                           in_specs=P(None, "model"), out_specs=P(), axis_names={"model"})
    outer = spmd.shard_map(lambda a: lax.psum(inner(a), "data"), mesh=MESH_2D,
                           in_specs=P("data"), out_specs=P(), axis_names={"data"})
    assert_close(outer(x), x.reshape(4, 2, 2, 2).sum((0, 2)), rtol=1e-5)


# ---------------------------------------------------------------- grad and vmap
def _data_parallel_loss(w, x, y):
    def local(w, x, y):
        return lax.pmean(jnp.mean((x @ w - y) ** 2), "x")
    return spmd.shard_map(local, mesh=MESH_1D, in_specs=(P(), P("x"), P("x")),
                          out_specs=P())(w, x, y)


def test_grad_of_a_data_parallel_loss():
    w, x, y = _normal(5, 3), _normal(16, 5), _normal(16, 3)
    expected = 2 * x.T @ (x @ w - y) / y.size  # d/dw of the mean squared error
    assert_close(spmd.grad(_data_parallel_loss)(w, x, y), expected, rtol=1e-5, atol=1e-5)
    step = spmd.jit(lambda w: w - 0.1 * spmd.grad(_data_parallel_loss)(w, x, y))
    assert_close(step(w), w - 0.1 * expected, rtol=1e-5, atol=1e-5)


def test_grad_of_a_data_x_model_mlp_matches_one_device():
    w1, w2, x, y = _normal(6, 8), _normal(8, 3), _normal(8, 6), _normal(8, 3)

    def local(w1, w2, x, y):  # w1 split by columns, w2 by rows over 'model'
        out = lax.psum(jnp.tanh(x @ w1) @ w2, "model")
        return lax.pmean(jnp.mean((out - y) ** 2), "data")
    sharded = spmd.shard_map(local, mesh=MESH_2D, out_specs=P(),
                             in_specs=(P(None, "model"), P("model"), P("data"), P("data")))

    def one_device(w1, w2, x, y):
        return jnp.mean((jnp.tanh(x @ w1) @ w2 - y) ** 2)
    assert_close(sharded(w1, w2, x, y), one_device(w1, w2, x, y), rtol=1e-5)
    expected = spmd.grad(one_device, (0, 1))(w1, w2, x, y)
    assert_close(spmd.jit(spmd.grad(sharded, (0, 1)))(w1, w2, x, y), expected, rtol=1e-4,
                 atol=1e-5)


def test_grad_through_every_kind_of_collective_matches_one_device():
    shift = [(i, (i + 1) % 8) for i in range(8)]

    def local(a):  # a: this device's (2, 8) block of X
        whole = lax.all_gather(a, "x", tiled=True)
        column = lax.psum_scatter(a, "x", scatter_dimension=1, tiled=True)
        mine = lax.all_to_all(a, "x", 1, 0, tiled=True)  # column i of X, all rows
        terms = (jnp.sum(whole[:2] * a) + jnp.sum(lax.ppermute(a, "x", shift) * a)
                 + jnp.sum(column ** 2) + jnp.sum(mine ** 3) + jnp.sum(lax.pmax(a, "x")))
        return lax.psum(terms, "x")
    sharded = spmd.shard_map(local, mesh=MESH_1D, in_specs=P("x"), out_specs=P())

    def one_device(x):
        blocks = x.reshape(8, 2, 8)
        return (jnp.sum(x[:2] * blocks.sum(0)) + jnp.sum(jnp.roll(blocks, 1, 0) * blocks)
                + jnp.sum(blocks.sum(0) ** 2) + jnp.sum(x ** 3) + 8 * jnp.sum(blocks.max(0)))
    x = _normal(16, 8)
    assert_close(sharded(x), one_device(x), rtol=1e-4)
    assert_close(spmd.jit(spmd.grad(sharded))(x), spmd.grad(one_device)(x), rtol=1e-4,
                 atol=1e-5)


def test_vmap_of_shard_map_matches_the_loop():
    xs = _normal(3, 8, 6)
    f = spmd.shard_map(lambda a: lax.psum(jnp.sin(a).sum(0), "data") * lax.axis_index("model"),
                       mesh=MESH_2D, in_specs=P("data", "model"), out_specs=P("model"))
    expected = np.stack([f(x) for x in xs])
    assert_close(expected, (np.sin(xs).sum(1) * np.repeat([0, 1], 3)).astype(np.float32),
                 rtol=1e-5)
    assert_close(spmd.vmap(f)(xs), expected, rtol=1e-5)
    assert_close(spmd.vmap(f, in_axes=1, out_axes=1)(np.moveaxis(xs, 0, 1)), expected.T,
                 rtol=1e-5)


def test_in_specs_read_from_the_arguments_on_an_explicit_mesh():
    x = spmd.device_put(_normal(8, 4), spmd.NamedSharding(MESH_2D, P("model", "data")))
    f = spmd.shard_map(lambda a: lax.all_gather(a, "data", axis=1, tiled=True) * 2,
                       mesh=MESH_2D, out_specs=P("model"))  # make_mesh's axes are Explicit
    assert_close(f(x), 2 * np.asarray(x))


def test_in_specs_read_inside_jit_from_the_jit_arguments():
    x0 = _normal(8, 4)
    f = spmd.shard_map(lambda a: lax.all_gather(a, "data", axis=1, tiled=True) * 2,
                       mesh=MESH_2D, out_specs=P("model"))
    x = spmd.device_put(x0, spmd.NamedSharding(MESH_2D, P("model", "data")))
    assert_close(spmd.jit(f)(x), 2 * x0)  # from the Array's sharding
    g = spmd.jit(f, in_shardings=spmd.NamedSharding(MESH_2D, P("model", "data")))
    assert_close(g(x0), 2 * x0)  # from jit's in_shardings


def test_none_in_specs_mark_static_arguments():
    x = _normal(16)
    f = spmd.shard_map(lambda a, n, s: lax.psum(a * n, "x") + len(s), mesh=MESH_1D,
                       in_specs=(P("x"), None, None), out_specs=P())
    expected = 3 * x.reshape(8, 2).sum(0) + 2
    assert_close(f(x, 3, "ab"), expected, rtol=1e-5)  # n and s reach f as Python values
    assert_close(spmd.jit(lambda a: f(a, 3, "ab"))(x), expected, rtol=1e-5)
    with pytest.raises(TypeError, match=r"in_specs must be a pytree of PartitionSpecs, but it "
                                        r"was None; did you mean in_specs=P\(\)"):
        spmd.shard_map(_f, mesh=MESH_1D, in_specs=None, out_specs=P())


def test_pcast_to_varying_and_its_gradient():
    w, x = _normal(3), _normal(8, 3)

    def local(w, x):  # w is the same on every device until pcast says it may vary
        return lax.psum(jnp.sum(lax.pcast(w, "x", to="varying") * x), "x")
    f = spmd.shard_map(local, mesh=MESH_1D, in_specs=(P(), P("x")), out_specs=P())
    assert_close(f(w, x), np.sum(w * x), rtol=1e-5)
    assert_close(spmd.jit(spmd.grad(f))(w, x), x.sum(0), rtol=1e-5)  # summed once, not twice
    varied = spmd.shard_map(lambda w: lax.pcast(w, ("x",), to="varying"), mesh=MESH_1D,
                            in_specs=P(), out_specs=P())
    with pytest.raises(ValueError, match=r"given out_specs PartitionSpec\(\) for result 0.*"
                                         r"varies along it"):
        varied(w)  # a varying value cannot leave as replicated
    twice = spmd.shard_map(lambda x: lax.pcast(x, "x", to="varying"), mesh=MESH_1D,
                           in_specs=P("x"), out_specs=P("x"))
    with pytest.raises(ValueError, match=r"pcast\(..., to='varying'\) over axes \('x',\) was "
                                         r"given a value that already varies along 'x'"):
        twice(x)
    with pytest.raises(NotImplementedError, match=r"to='reduced'\) is not supported"):
        spmd.shard_map(lambda w: lax.pcast(w, "x", to="reduced"), mesh=MESH_1D, in_specs=P(),
                       out_specs=P())(w)
    with pytest.raises(ValueError, match=r"got to='vary'; the allowed values are"):
        lax.pcast(w, "x", to="vary")
    with pytest.raises(NameError, match=r"unbound axis name"):
        lax.pcast(w, "x", to="varying")  # outside shard_map


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_pbroadcast_under_shard_map_pmap_and_vmap(dtype):
    x = (RNG.normal(size=(8, 3)) * 4).astype(dtype)
    f = spmd.shard_map(lambda a: lax.pbroadcast(a, "x", 3), mesh=MESH_1D, in_specs=P("x"),
                       out_specs=P())
    np.testing.assert_array_equal(f(x), x[3:4])
    np.testing.assert_array_equal(spmd.pmap(lambda a: lax.pbroadcast(a, "i", 2), "i")(x),
                                  np.broadcast_to(x[2], x.shape))
    np.testing.assert_array_equal(spmd.vmap(lambda a: lax.pbroadcast(a, "i", 5), axis_name="i")(x),
                                  np.broadcast_to(x[5], x.shape))
    if dtype == np.float32:  # the source's value went everywhere: its gradient sums them
        g = spmd.grad(lambda a: jnp.sum(spmd.pmap(
            lambda b: lax.pbroadcast(b, "i", 2), "i")(a) * np.arange(8.0, dtype=dtype)[:, None]))(x)
        assert_close(g, np.where(np.arange(8)[:, None] == 2, 28.0, 0.0).astype(dtype)
                     * np.ones((1, 3), dtype))
    with pytest.raises(ValueError, match=r"pbroadcast: source=8 must be an int axis index in "
                                         r"\[0, 8\) for axis 'i'"):
        spmd.pmap(lambda a: lax.pbroadcast(a, "i", 8), "i")(x)


def test_experimental_spelling():
    x = _normal(16)
    f = spmd.experimental.shard_map.shard_map(lambda a: lax.psum(a, "x"), MESH_1D, P("x"), P(),
                                              check_rep=False)
    assert_close(f(x), x.reshape(8, 2).sum(0))


# ---------------------------------------------------------------- misuses
def _f(a, b):
    return a + b


@pytest.mark.parametrize("kwargs,args,error,match", [
    (dict(in_specs=(P("z"), P())), (np.ones(8), np.ones(8)), ValueError,
     r"in_specs for argument args\[0\]: PartitionSpec\('z'\) names mesh axis 'z', which the "
     r"mesh lacks \(its axes are \('x',\)\)"),
    (dict(in_specs=(P(), P("x"))), (np.ones(8), np.ones(6)), ValueError,
     r"shard_map argument args\[1\] of shape \(6,\): dimension 0 \(size 6\) is not divisible "
     r"by mesh axis 'x' \(size 8\)"),
    (dict(in_specs=(P("x"),)), (np.ones(8), np.ones(8)), ValueError,
     r"shard_map in_specs specification must be a tree prefix.*different lengths of tuple"),
    (dict(in_specs=(P("x"), P("x")), out_specs=(P("x"), P())), (np.ones(8), np.ones(8)),
     ValueError, r"shard_map out_specs specification must be a tree prefix"),
    (dict(in_specs=(P("x"), P("x")), out_specs=P("x", "y")), (np.ones(8), np.ones(8)),
     ValueError, r"out_specs.*: PartitionSpec\('x', 'y'\) names mesh axis "
     r"'y', which the mesh lacks \(its axes are \('x',\)\)"),
    (dict(in_specs=(P("x"), P("x")), out_specs=P()), (np.ones(8), np.ones(8)), ValueError,
     r"given out_specs PartitionSpec\(\) for result 0, which says it is the same on every "
     r"device along mesh axis 'x', but it varies along it.*check_vma=False"),
    (dict(in_specs=(P("x"), P()), axis_names=["x"]), (np.ones(8), np.ones(8)), TypeError,
     r"axis_names must be a set or frozenset"),
    (dict(in_specs=(P("x"), P()), axis_names={"y"}), (np.ones(8), np.ones(8)), ValueError,
     r"axis_names=\{'y'\} to be a subset of the mesh's axis names \('x',\)"),
    (dict(), (np.ones(8), np.ones(8)), TypeError,
     r"in_specs must be given .* when the mesh axes \('x',\) are of type Auto"),
])
def test_misuses_name_the_argument_and_the_axis(kwargs, args, error, match):
    mesh = spmd.sharding.Mesh(MESH_1D.devices, ("x",))  # Auto axes: in_specs are required
    kwargs = dict(dict(out_specs=P("x")), **kwargs)
    with pytest.raises(error, match=match):
        spmd.shard_map(_f, mesh=mesh, **kwargs)(*args)


def test_check_vma_false_trusts_the_out_specs():
    f = spmd.shard_map(lambda a: lax.pmax(a, "x") + 0 * a, mesh=MESH_1D, in_specs=P("x"),
                       out_specs=P(), check_vma=False)
    assert_close(f(np.arange(8.0, dtype=np.float32)), np.array([7.0], np.float32))


def test_shard_map_inside_pmap_is_refused():
    f = spmd.shard_map(lambda a: a * 2, mesh=MESH_1D, in_specs=P("x"), out_specs=P("x"))
    with pytest.raises(NotImplementedError, match=r"shard_map over Mesh\('x': 8\) inside a pmap"):
        spmd.pmap(f)(np.ones((2, 8), np.float32))
