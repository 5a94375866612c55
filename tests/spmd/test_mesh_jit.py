"""jit over a device mesh (8 CPU devices): the partitioned program's results equal NumPy's
for an elementwise op, a matmul split on each of its axes, a reduction over a split axis, a
data-parallel training step and a data x model MLP; and the misuses are named."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.sharding import Mesh, NamedSharding, PartitionSpec as P
from spmd.transforms.mesh_placement import place
from tests.oracles import assert_close

MESH_2D = spmd.make_mesh((2, 4), ("x", "y"))
MESH_1D = spmd.make_mesh((8,), ("batch",))
RNG = np.random.default_rng(0)
A = RNG.standard_normal((8, 16)).astype(np.float32)
B = RNG.standard_normal((16, 4)).astype(np.float32)


def on(mesh, *spec):
    return NamedSharding(mesh, P(*spec))


@pytest.mark.parametrize("spec", [("x", "y"), ("y", None), (None, ("x", "y")), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_elementwise_keeps_the_layout_and_equals_numpy(spec, dtype):
    a = (A * 4).astype(dtype)
    x = place(a, on(MESH_2D, *spec))
    y = spmd.jit(lambda v: v + v)(x) if dtype != np.bool_ else spmd.jit(jnp.logical_not)(x)
    expected = a + a if dtype != np.bool_ else np.logical_not(a)
    assert_close(y, expected)
    assert y.sharding == on(MESH_2D, *spec)


@pytest.mark.parametrize("a_spec,b_spec", [(("x", None), (None, None)),      # rows of a
                                           ((None, "y"), ("y", None)),      # contracted axis
                                           ((None, None), (None, "x")),     # columns of b
                                           (("x", "y"), ("y", None))])
def test_matmul_split_on_each_axis_equals_numpy(a_spec, b_spec):
    x, w = place(A, on(MESH_2D, *a_spec)), place(B, on(MESH_2D, *b_spec))
    assert_close(spmd.jit(jnp.matmul)(x, w), A @ B, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [0, 1, None])
def test_reduction_over_a_split_axis_equals_numpy(axis):
    x = place(A, on(MESH_2D, "x", "y"))
    assert_close(spmd.jit(lambda v: jnp.sum(v, axis=axis))(x), A.sum(axis=axis),
                 rtol=1e-5, atol=1e-5)


def test_in_and_out_shardings_place_host_arguments_and_results():
    f = spmd.jit(lambda a, b: (a @ b, a.sum()), in_shardings=(on(MESH_2D, "x"), None),
                 out_shardings=(on(MESH_2D, None, "y"), on(MESH_2D)))
    out, total = f(A, B)
    assert_close(out, A @ B, rtol=1e-5, atol=1e-5)
    assert_close(total, A.sum(), rtol=1e-5, atol=1e-5)
    assert out.sharding == on(MESH_2D, None, "y") and total.sharding == on(MESH_2D)
    lowered = f.lower(A, B)
    text = lowered.as_text()  # one program for the partitioner: Shardy's mesh and shardings
    assert 'sdy.mesh @mesh = <["x"=2, "y"=4]>' in text
    assert 'sdy.sharding = #sdy.sharding<@mesh, [{"x"}, {}]>' in text
    compiled = lowered.compile()
    assert compiled.input_shardings[0] == (on(MESH_2D, "x"), on(MESH_2D))
    assert compiled.output_shardings == (on(MESH_2D, None, "y"), on(MESH_2D))


def test_bare_partition_specs_name_the_current_mesh():
    f = spmd.jit(lambda a: a * 3, in_shardings=P("y"), out_shardings=P(None, "x"))
    with spmd.set_mesh(MESH_2D):
        y = f(A)
    assert y.sharding == on(MESH_2D, None, "x")
    assert_close(y, A * 3)
    with MESH_2D:
        z = spmd.jit(lambda a: spmd.lax.with_sharding_constraint(a * 2, P("x", "y")))(A)
    assert z.sharding == on(MESH_2D, "x", "y")
    assert_close(z, A * 2)


def test_sharding_constraint_under_grad_and_vmap():
    def f(w):
        h = spmd.lax.with_sharding_constraint(jnp.tanh(A @ w), on(MESH_2D, "x", None))
        return jnp.sum(h * h)
    w = place(B, on(MESH_2D, None, "y"))
    g = spmd.jit(spmd.grad(f))(w)
    h = np.tanh(A @ B)
    assert_close(g, A.T @ (2 * h * (1 - h * h)), rtol=1e-4, atol=1e-4)
    batched = spmd.jit(spmd.vmap(
        lambda r: spmd.lax.with_sharding_constraint(r * 2, on(MESH_2D, "y"))))(A)
    assert_close(batched, A * 2)


def test_arrays_know_their_shards():
    x = place(A, on(MESH_2D, "x", "y"))
    assert x.is_fully_addressable and len(x.addressable_shards) == 8
    for shard, device in zip(x.addressable_shards, MESH_2D.devices.flat):
        assert shard.device == device and shard.replica_id == 0
        assert_close(shard.data, A[shard.index])
        assert shard.data.devices() == {device}
    assert_close(x.addressable_data(5), A[4:8, 4:8])
    r = place(A, on(MESH_2D, "x"))  # each block held by the 4 devices of axis 'y'
    assert [s.replica_id for s in r.addressable_shards] == [0, 1, 2, 3] * 2
    single = spmd.jit(lambda v: v)(A)
    assert single.sharding == spmd.sharding.SingleDeviceSharding(spmd.devices()[0])
    assert [s.index for s in single.addressable_shards] == [(slice(None), slice(None))]


def _loss(params, x, y):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def _step(params, x, y):
    loss, grads = spmd.value_and_grad(_loss)(params, x, y)
    return spmd.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads), loss


def _problem():
    rng = np.random.default_rng(1)
    params = {"w1": rng.standard_normal((6, 16)).astype(np.float32) * 0.3,
              "b1": np.zeros(16, np.float32),
              "w2": rng.standard_normal((16, 2)).astype(np.float32) * 0.3}
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    return params, x, y


def _run(step, params, x, y, n):
    """`n` steps: the final parameters and the loss of each step."""
    losses = []
    for _ in range(n):
        params, loss = step(params, x, y)
        losses.append(float(loss))
    return params, losses


def test_data_parallel_training_step_on_a_batch_mesh_equals_one_device():
    params, x, y = _problem()
    expected, expected_losses = _run(spmd.jit(_step), params, x, y, 3)
    replicated, by_batch = on(MESH_1D), on(MESH_1D, "batch")
    params = spmd.tree_util.tree_map(lambda p: place(p, replicated), params)
    params, losses = _run(spmd.jit(_step), params, place(x, by_batch), place(y, by_batch), 3)
    assert_close(params, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    assert params["w1"].sharding == replicated


def test_tensor_parallel_mlp_on_a_data_by_model_mesh_equals_one_device():
    mesh = spmd.make_mesh((2, 4), ("data", "model"))
    params, x, y = _problem()
    expected, expected_losses = _run(spmd.jit(_step), params, x, y, 2)
    # Megatron's split: the hidden units over 'model' (columns of w1, rows of w2)
    layout = {"w1": on(mesh, None, "model"), "b1": on(mesh, "model"), "w2": on(mesh, "model")}
    step = spmd.jit(_step, in_shardings=(layout, on(mesh, "data"), on(mesh, "data")),
                    out_shardings=(layout, on(mesh)))
    params, losses = _run(step, params, x, y, 2)
    assert_close(params, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    assert params["w1"].sharding == layout["w1"]


def test_a_spec_naming_an_axis_the_mesh_lacks_is_named():
    with pytest.raises(ValueError, match="names mesh axis 'model', which the mesh lacks .*"
                                         r"\('x', 'y'\)"):
        NamedSharding(MESH_2D, P("model"))
    f = spmd.jit(lambda a: a, in_shardings=P("model"))
    with spmd.set_mesh(MESH_2D), pytest.raises(ValueError, match="mesh axis 'model'"):
        f(A)


def test_a_dimension_not_divisible_by_its_mesh_axes_names_the_array_and_axis():
    f = spmd.jit(lambda weights: weights, in_shardings=on(MESH_2D, None, "y"))
    with pytest.raises(ValueError, match=r"argument 0 \(weights\) of shape \(8, 6\): "
                                         r"dimension 1 \(size 6\) is not divisible by mesh "
                                         r"axis 'y' \(size 4\)"):
        f(np.zeros((8, 6), np.float32))
    with pytest.raises(ValueError, match=r"of shape \(3,\): dimension 0 \(size 3\) .*'x' \(size 2\)"
                                         r" x 'y' \(size 4\)"):
        place(np.zeros(3), on(MESH_2D, ("x", "y")))


def test_mesh_misuses_are_named():
    with pytest.raises(ValueError, match="one axis name per dimension"):
        Mesh(np.array(spmd.devices()).reshape(2, 4), ("x",))
    with pytest.raises(ValueError, match="needs 16 devices but 8 are available"):
        spmd.make_mesh((4, 4), ("x", "y"))
    with pytest.raises(ValueError, match=r"a bare PartitionSpec\('x'\) needs a current mesh"):
        spmd.jit(lambda a: a, in_shardings=P("x"))(A)
    other = Mesh(np.array(spmd.devices()[:4]), ("x",))
    with pytest.raises(ValueError, match="several meshes"):
        spmd.jit(lambda a, b: a)(place(A, on(MESH_2D, "x")), place(A, on(other, "x")))


def test_grad_of_a_jitted_function_of_placed_arrays_runs_over_their_mesh():
    w = place(B, on(MESH_2D, None, "y"))
    g = spmd.grad(spmd.jit(lambda v: jnp.sum(jnp.sin(A @ v))))(w)
    assert_close(g, A.T @ np.cos(A @ B), rtol=1e-4, atol=1e-4)


def test_shardings_keywords_misuses_are_named():
    with pytest.raises(ValueError, match=r"one entry per positional argument, but got "
                                         r"len\(in_shardings\)=3 for 2"):
        spmd.jit(lambda a, b: a, in_shardings=(None, None, None))(A, B)
    with pytest.raises(ValueError, match="needs a program partitioned over a mesh"):
        spmd.pmap(lambda v: spmd.lax.with_sharding_constraint(v, on(MESH_2D)))(A)


def test_executions_in_flight_are_bounded_as_pmaps_are(monkeypatch):
    # XLA's CPU collectives deadlock when a loop that never waits queues too many executions
    # of a program whose devices meet (the partitioner's all-reduce here)
    from spmd.transforms import backend, inflight
    events, run_with_token = [], backend.Executable.run_with_token

    class Token:
        def __init__(self, token):
            self.token = token

        def block_until_ready(self):
            events.append("wait")
            self.token.block_until_ready()

    def recording_run(self, bufs):
        events.append("launch")
        outs, token = run_with_token(self, bufs)
        return outs, Token(token)

    step = spmd.jit(lambda v: v * 0.5 + jnp.sum(v) * 0.01)
    x = step(place(A, on(MESH_1D, "batch")))
    inflight.wait_all()
    monkeypatch.setattr(backend.Executable, "run_with_token", recording_run)
    monkeypatch.setattr(spmd.config, "max_inflight_executions", 1)
    for _ in range(3):
        x = step(x)
    assert events == ["launch", "wait", "launch", "wait", "launch"]
    expected = A
    for _ in range(4):
        expected = expected * 0.5 + expected.sum() * 0.01
    assert_close(x, expected, rtol=1e-5, atol=1e-5)


def test_eager_operations_on_placed_arrays_stay_on_their_mesh():
    x = place(A, on(MESH_2D, "x", "y"))
    y = jnp.exp(x) - 2 * x
    assert y.sharding == on(MESH_2D, "x", "y")
    assert_close(y, np.exp(A) - 2 * A, rtol=1e-5, atol=1e-5)
    total = jnp.sum(x, axis=0)
    assert_close(total, A.sum(0), rtol=1e-5, atol=1e-5)
    assert total.sharding.mesh == MESH_2D


def test_repeat_calls_take_each_layout_to_its_own_program():
    f = spmd.jit(lambda v: v * 2 + jnp.sum(v, axis=0))
    expected = A * 2 + A.sum(0)
    for spec in [("x",), ("x",), (None, "y"), (None, "y"), ("x",)]:
        out = f(place(A, on(MESH_2D, *spec)))
        assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert_close(f(A), expected, rtol=1e-5, atol=1e-5)  # one device, then a mesh again
    x = place(A, on(MESH_2D, "x"))
    assert_close(f(x), expected, rtol=1e-5, atol=1e-5)
    donating = spmd.jit(lambda v: v + 1, donate_argnums=0)
    y = donating(donating(x))
    assert_close(y, A + 2)
    with pytest.raises(RuntimeError, match="donated"):
        donating(x)


def test_shardings_of_a_jit_inside_a_transform_constrain_its_values():
    inner = spmd.jit(lambda v: jnp.sin(v) * 2, in_shardings=on(MESH_2D, "x"),
                     out_shardings=on(MESH_2D, None, "y"))
    out = spmd.jit(lambda v: inner(v) + 1)(A)
    assert out.sharding == on(MESH_2D, None, "y")
    assert_close(out, np.sin(A) * 2 + 1, rtol=1e-5, atol=1e-5)
    g = spmd.grad(lambda v: jnp.sum(inner(v)))(A)
    assert_close(g, 2 * np.cos(A), rtol=1e-5, atol=1e-5)
    assert_close(spmd.vmap(inner)(A[None]), (np.sin(A) * 2)[None], rtol=1e-5, atol=1e-5)


def test_donated_arguments_laid_out_unlike_the_results_are_offered_not_aliased():
    # an input and an output share a buffer only when their per-device blocks are alike
    f = spmd.jit(lambda v, w: (v * 2, w + 1), in_shardings=(on(MESH_2D), on(MESH_2D, "x")),
                 out_shardings=(on(MESH_2D, "x", "y"), on(MESH_2D, "x")), donate_argnums=(0, 1))
    x, w = place(A, on(MESH_2D)), place(A, on(MESH_2D, "x"))
    doubled, plus_one = f(x, w)
    assert_close(doubled, A * 2)
    assert_close(plus_one, A + 1)
    assert w.is_deleted()
