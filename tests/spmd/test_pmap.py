"""spmd.pmap: the mapped function equals the per-shard loop (spmd.numpy families, in_axes /
out_axes / static / keyword arguments), results stay on their devices, programs are traced and
compiled once, a data-parallel train step equals the single-device step on the whole batch,
collectives inside jit and scan, misuses fail clearly, and an unblocked loop of 2000 steps
with collectives cannot deadlock XLA's CPU runtime."""
import functools

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import inflight, lax
from tests.oracles import assert_close, check_grads, check_mapped
from spmd.transforms import backend, tree_util

pytestmark = pytest.mark.usefixtures("poisoned_jax")  # fetching never tries to import jax

RNG = np.random.default_rng(0)
X8 = RNG.standard_normal((8, 4, 3)).astype(np.float32)
W = RNG.standard_normal((3, 5)).astype(np.float32)

# ---------------------------------------------------------------- spmd.numpy families
FAMILIES = [
    ("unary", lambda x: jnp.sin(x) * jnp.exp(-x)),
    ("binary_broadcast", lambda x: jnp.maximum(x, 0.5) + x[:, :1] * 2),
    ("reductions", lambda x: (jnp.sum(x, axis=0), jnp.mean(x), jnp.max(x, axis=1))),
    ("matmul", lambda x: x @ W),
    ("einsum", lambda x: jnp.einsum("ij,jk->ik", x, W)),
    ("shape", lambda x: jnp.concatenate([x.T, jnp.reshape(x, (3, 4))], axis=1)),
    ("indexing", lambda x: (x[::2], x[..., 0], jnp.take(x, np.array([2, 0]), axis=0))),
    ("cumulative", lambda x: jnp.cumsum(x, axis=0)),
    ("where_clip", lambda x: jnp.where(x > 0, jnp.clip(x, 0.2, 0.8), -x)),
    ("sort_argmax", lambda x: (jnp.sort(x, axis=1), jnp.argmax(x, axis=0))),
    ("nn", lambda x: spmd.nn.softmax(x, axis=-1)),
]


@pytest.mark.parametrize("fun", [f for _, f in FAMILIES], ids=[n for n, _ in FAMILIES])
def test_pmap_equals_the_per_shard_loop(fun):
    check_mapped(spmd.pmap(fun), fun, (X8,))


# ---------------------------------------------------------------- argument conventions
def _add_scaled(x, y, scale=1.0):
    return x * scale + y


MAPPINGS = [  # (name, pmap kwargs, function, args, in_axes for the loop oracle, out_axes)
    ("broadcast_arg", dict(in_axes=(0, None)), _add_scaled, (X8, X8[0]), (0, None), 0),
    ("in_axes_1", dict(in_axes=1), lambda x: x * 2, (np.swapaxes(X8, 0, 1),), 1, 0),
    ("out_axes_1", dict(in_axes=(1, 0), out_axes=1), _add_scaled,
     (np.swapaxes(X8, 0, 1), X8), (1, 0), 1),
    ("out_axes_none", dict(in_axes=(None, None), out_axes=None, axis_size=4), _add_scaled,
     (X8[0], X8[1]), None, None),
]


@pytest.mark.parametrize("kwargs,fun,args,in_axes,out_axes", [m[1:] for m in MAPPINGS],
                         ids=[m[0] for m in MAPPINGS])
def test_in_axes_and_out_axes(kwargs, fun, args, in_axes, out_axes):
    mapped = spmd.pmap(fun, **kwargs)
    if out_axes is None:
        out = mapped(*args)
        assert out.is_replicated and len(out.sharding_devices) == 4
        assert_close(out, fun(*args))
        return
    check_mapped(mapped, fun, args, in_axes=in_axes, out_axes=out_axes)


def test_pytrees_keywords_and_static_arguments():
    calls = []

    def f(params, n, x, *, bias):
        calls.append(n)
        return {"y": x @ params["w"] * n + bias, "n": n * jnp.ones(())}, params["b"]

    params = {"w": W, "b": np.arange(8.0, dtype=np.float32)}
    mapped = spmd.pmap(f, in_axes=({"w": None, "b": 0}, None, 0), static_broadcasted_argnums=1)
    bias = RNG.standard_normal((8, 5)).astype(np.float32)
    out, b = mapped(params, 3, X8, bias=bias)
    assert_close(out["y"], X8 @ W * 3 + bias[:, None, :])
    assert_close(out["n"], np.full(8, 3.0, np.float32))
    assert_close(b, params["b"])
    mapped(params, 3, X8, bias=bias)
    assert calls == [3]  # traced once for the static value 3
    mapped(params, 4, X8, bias=bias)
    assert calls == [3, 4]


def test_backend_cpu_is_the_default_platform():
    assert_close(spmd.pmap(jnp.sin, backend="cpu")(X8), np.sin(X8), rtol=1e-6)
    assert_close(spmd.pmap(backend="cpu", axis_name="i")(lambda x: lax.psum(x, "i"))(X8),
                 np.broadcast_to(X8.sum(0), X8.shape), rtol=1e-5)


def test_decorator_forms_and_devices_subset():
    @functools.partial(spmd.pmap, axis_name="i", devices=spmd.devices()[4:])
    def normalized(x):
        return x / lax.psum(jnp.sum(x), "i")

    x = np.abs(X8[:4]) + 1
    out = normalized(x)
    assert_close(out, x / x.sum(), rtol=1e-6)
    assert out.sharding_devices == spmd.devices()[4:]
    assert_close(spmd.pmap(axis_name="i")(lambda x: lax.axis_index("i"))(X8[:2]),
                 np.arange(2, dtype=np.int32))


def test_one_device():
    out = spmd.pmap(lambda x: lax.psum(x, "i") + lax.axis_index("i"), axis_name="i")(X8[:1])
    assert_close(out, X8[:1])


def test_devices_queries():
    assert spmd.device_count() == spmd.local_device_count() == len(spmd.devices()) == 8
    assert spmd.local_devices() == spmd.devices()
    assert spmd.process_index() == 0 and spmd.process_count() == 1


# ---------------------------------------------------------------- results on their devices
@pytest.fixture
def transfers(monkeypatch):
    """The host-to-device transfers made while the test runs."""
    made = []
    for name in ("device_put", "device_put_sharded", "device_put_replicated"):
        original = getattr(backend, name)
        monkeypatch.setattr(backend, name, lambda *a, _o=original, _n=name: made.append(_n) or
                            _o(*a))
    return made


def test_results_stay_on_devices_and_feed_the_next_pmap(transfers):
    step = spmd.pmap(lambda x, w: (jnp.tanh(x @ w), lax.pmean(w, "i")), axis_name="i",
                     in_axes=(0, None), out_axes=(0, None))
    w = np.eye(3, dtype=np.float32)
    x1, w1 = step(X8, w)
    assert x1.is_sharded and x1.sharding_devices == spmd.devices()
    assert w1.is_replicated
    transfers.clear()
    x2, w2 = step(x1, w1)  # both already laid out on the devices: passed on as they are
    assert transfers == []
    assert_close(x2, np.tanh(np.tanh(X8 @ w) @ w), rtol=1e-5)
    # x[i] is device i's part; np.asarray gathers; pytrees of results work as pytrees
    assert_close(x2[3], np.asarray(x2)[3])
    assert_close(x2[-1], np.asarray(x2)[7])
    summed = tree_util.tree_map(lambda a: a.sum(), {"x": x2, "w": w2})
    assert_close(summed["x"], np.asarray(x2).sum(), rtol=1e-5)


def test_device_put_sharded_and_replicated_give_the_mapped_layout(transfers):
    devices = spmd.devices()[:4]
    w = spmd.device_put_replicated({"w": W}, devices)
    x = spmd.device_put_sharded([X8[i] for i in range(4)], devices)
    assert_close(w, {"w": np.stack([W] * 4)})
    assert_close(x, X8[:4])
    transfers.clear()
    out = spmd.pmap(lambda p, x: x @ p["w"], devices=devices)(w, x)
    assert transfers == []
    assert_close(out, X8[:4] @ W, rtol=1e-5)
    with pytest.raises(ValueError, match="got 3 shards for 4 devices"):
        spmd.device_put_sharded([W] * 3, devices)


def test_donated_arguments_are_consumed():
    step = spmd.pmap(lambda p, g: p - 0.5 * g, donate_argnums=0)
    p = spmd.pmap(lambda x: x + 0)(X8)
    new = step(p, X8)
    assert p.is_deleted()
    assert_close(new, X8 * 0.5)
    with pytest.raises(RuntimeError, match="donated"):
        np.asarray(p)


def test_device_arrays_take_the_short_path_with_the_same_results():
    """Calls whose arguments are all device Arrays skip flattening after the first (keyed by
    their types): results, donation, in_axes/out_axes and a new shape still behave."""
    step = spmd.pmap(lambda p, g: (p - 0.5 * g, (g * 2,)), donate_argnums=0)
    put = spmd.pmap(lambda x: x + 0)
    p, g = put(X8), put(X8 + 1)
    for i in range(3):
        p, (twice,) = step(p, g)
        assert_close(p, X8 - 0.5 * (i + 1) * (X8 + 1))
        assert_close(twice, (X8 + 1) * 2)
    assert len(step._by_avals) == 1
    step(g, put(X8))
    with pytest.raises(RuntimeError, match="donated"):
        step(g, put(X8))  # g was donated by the call before
    moved = spmd.pmap(lambda a: a * 3, in_axes=1, out_axes=1)
    columns = jnp.asarray(X8.T.copy())  # an Array on one device, mapped over axis 1
    for _ in range(2):
        assert_close(moved(columns), X8.T * 3)
    halves = put(X8[:4])
    assert_close(step(halves, put(X8[:4]))[0], X8[:4] * 0.5)  # another signature
    spmd.clear_caches()
    assert not step._by_avals


def test_traced_and_compiled_once():
    traces = []

    def f(x):
        traces.append(1)
        return x * 2

    for _ in range(3):  # a pmap re-created around the same function reuses its program
        spmd.pmap(f)(X8)
    spmd.pmap(f)(X8 + 1)
    assert len(traces) == 1
    spmd.pmap(f)(X8[:4])  # another mapped size is another signature
    assert len(traces) == 2


# ---------------------------------------------------------------- inside the mapped function
def test_jit_inside_pmap_is_inlined():
    inner = spmd.jit(lambda x: lax.psum(x * x, "i"))
    mapped = spmd.pmap(lambda x: inner(x) + 1, axis_name="i")
    text = mapped.lower(X8).as_text()
    assert "call @" not in text and text.count("func.func") == 1
    assert_close(mapped(X8), np.broadcast_to((X8 * X8).sum(0) + 1, X8.shape), rtol=1e-5)
    # the same jitted function under a pmap of another size sees that size
    assert_close(spmd.pmap(lambda x: lax.all_gather(spmd.jit(lambda v: v)(x), "i"),
                           axis_name="i")(X8[:2]), np.stack([X8[:2]] * 2))


def test_scan_with_a_collective_in_its_body():
    def body(carry, x):
        total = lax.psum(x, "i")
        return carry + total, total * lax.axis_index("i")

    f = spmd.pmap(lambda xs: lax.scan(body, jnp.zeros(3), xs), axis_name="i")
    carry, ys = f(X8)
    totals = X8.sum(0)  # (4, 3): step t sums x[t] over the devices
    assert_close(carry, np.broadcast_to(totals.sum(0), (8, 3)), rtol=1e-5)
    assert_close(ys, totals[None] * np.arange(8, dtype=np.float32)[:, None, None],
                 rtol=1e-5, atol=1e-5)
    grads = spmd.pmap(spmd.grad(lambda xs: lax.scan(body, jnp.zeros(3), xs)[0].sum()),
                      axis_name="i")(X8)
    assert_close(grads, np.full_like(X8, 8.0))  # psum transposes to psum


# ---------------------------------------------------------------- transforms of a pmap
def _mixed(x, w):
    """Mapped and broadcast inputs, a collective, an out_axes=None output."""
    return jnp.sin(x * w) + lax.psum(x, "i") * w, lax.pmean(jnp.tanh(x), "i")


@pytest.mark.parametrize("in_axes", [(0, None), (1, None)], ids=["in_axes_0", "in_axes_1"])
def test_grad_and_jvp_of_pmap(x64, in_axes):
    """grad/jvp/vjp of a pmap (pmap inside the transform) against finite differences."""
    x = RNG.standard_normal((4, 3)) if in_axes[0] == 0 else RNG.standard_normal((3, 4))
    f = spmd.pmap(_mixed, axis_name="i", in_axes=in_axes, out_axes=(0, None))
    check_grads(f, (x, RNG.standard_normal(3)), order=2)


def test_vmap_of_pmap():
    f = spmd.pmap(lambda x, w: (lax.psum(x * w, "i"), lax.axis_index("i") * w), axis_name="i",
                  in_axes=(0, None))
    xs = RNG.standard_normal((4, 2, 3)).astype(np.float32)
    ws = RNG.standard_normal((2, 3)).astype(np.float32)
    check_mapped(spmd.vmap(f, in_axes=(1, 0)), f, (xs, ws), in_axes=(1, 0), rtol=1e-5)


# ---------------------------------------------------------------- data-parallel training
def _loss(params, x, y):
    hidden = jnp.tanh(x @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"] + params["b2"]
    return jnp.mean(jnp.sum((logits - y) ** 2, axis=-1))


def _sgd(params, grads, lr=0.1):
    return tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def test_data_parallel_step_equals_the_single_device_step():
    rng = np.random.default_rng(1)
    params = {"w1": rng.standard_normal((6, 16)) * 0.3, "b1": np.zeros(16),
              "w2": rng.standard_normal((16, 2)) * 0.3, "b2": np.zeros(2)}
    params = tree_util.tree_map(lambda a: a.astype(np.float32), params)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.standard_normal((64, 2)).astype(np.float32)

    @functools.partial(spmd.pmap, axis_name="batch", in_axes=(None, 0, 0), out_axes=None)
    def parallel_step(params, x, y):
        loss, grads = spmd.value_and_grad(_loss)(params, x, y)
        return lax.pmean(loss, "batch"), _sgd(params, lax.pmean(grads, "batch"))

    single_step = spmd.jit(lambda p, x, y: (_loss(p, x, y), _sgd(p, spmd.grad(_loss)(p, x, y))))
    shards = (x.reshape(8, 8, 6), y.reshape(8, 8, 2))
    p_parallel, p_single = params, params
    for _ in range(3):
        loss_parallel, p_parallel = parallel_step(p_parallel, *shards)
        loss_single, p_single = single_step(p_single, x, y)
        assert_close(loss_parallel, loss_single, rtol=1e-5)
    assert_close(p_parallel, p_single, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- errors
ERRORS = [
    ("more elements than devices", lambda: spmd.pmap(lambda x: x)(np.zeros((9, 2))), ValueError,
     r"the mapped axis has size 9, but this process has only 8 CPU devices\. .*"
     r"SPMD_CPU_DEVICES=9 \(or XLA_FLAGS=--xla_force_host_platform_device_count=9\)"),
    ("different mapped sizes", lambda: spmd.pmap(lambda x, y: x + y)(np.zeros((4, 2)),
                                                                       np.zeros((2, 2))),
     ValueError, r"pmap got inconsistent sizes for array axes to be mapped:\n  \* one axis had "
                 r"size 4: axis 0 of argument 0 \(x\) of type f32\[4,2\];\n  \* one axis had "
                 r"size 2: axis 0 of argument 1 \(y\) of type f32\[2,2\]"),
    ("devices of the wrong length", lambda: spmd.pmap(lambda x: x, devices=spmd.devices()[:2])(
        np.zeros((4, 2))), ValueError, r"given 2 devices \(devices=\), but the mapped axis has "
                                       r"size 4"),
    ("a scalar mapped", lambda: spmd.pmap(lambda x: x)(3.0), ValueError,
     r"pmap was requested to map argument 0 \(x\) along axis 0, which implies that its rank "
     r"should be at least 1, but it is only 0 \(its shape is \(\)\)\. Give it an in_axes entry "
     r"of None"),
    ("in_axes of the wrong length", lambda: spmd.pmap(lambda x, y: x, in_axes=(0,))(X8, X8),
     ValueError, r"pmap in_axes must be an int, None, or a tuple of entries corresponding to "
                 r"the positional arguments .* but got len\(in_axes\)=1, len\(args\)=2"),
    ("in_axes out of range", lambda: spmd.pmap(lambda x: x, in_axes=3)(X8), ValueError,
     r"pmap was requested to map argument 0 \(x\) along axis 3, which implies that its rank "
     r"should be at least 4, but it is only 3 \(its shape is \(8, 4, 3\)\)"),
    ("nothing mapped", lambda: spmd.pmap(lambda x: x, in_axes=None)(X8), ValueError,
     "pmap must have at least one non-None value in in_axes, or be given axis_size"),
    ("unhashable static argument", lambda: spmd.pmap(lambda x, n: x, static_broadcasted_argnums=1)(
        X8, [1]), ValueError, r"pmap static argument 1 \(static_broadcasted_argnums\) of "
                              r"<lambda> must be hashable.* unhashable list: \[1\]"),
    ("unbound axis name", lambda: spmd.pmap(lambda x: lax.psum(x, "j"), axis_name="i")(X8),
     NameError, r"unbound axis name: 'j'\. The names bound by the enclosing pmap/vmap are \['i'\]"),
    ("collective outside any mapped context", lambda: lax.pmean(X8, "i"), NameError,
     r"unbound axis name: 'i': collectives over a named axis must run inside pmap"),
    ("nested pmap with devices", lambda: spmd.pmap(
        lambda x: spmd.pmap(jnp.sin, devices=spmd.devices()[:3])(x))(X8), ValueError,
     r"Nested pmap with explicit devices argument\."),
    ("global_arg_shapes, which JAX removed", lambda: spmd.pmap(jnp.sin, global_arg_shapes=((8,),)),
     ValueError, r"pmap: global_arg_shapes only worked with sharded_jit, which has long been "
                 r"removed from JAX .*; remove global_arg_shapes from the pmap call"),
    ("a platform not present", lambda: spmd.pmap(jnp.sin, backend="gpu"), RuntimeError,
     r"pmap: unknown backend: 'gpu' requested, .* Platforms present are: cpu\."),
    ("no devices", lambda: spmd.pmap(jnp.sin, devices=[]), ValueError,
     r"'devices' argument to pmap must be non-empty, or None\."),
    ("in_axes not a prefix of an argument", lambda: spmd.pmap(lambda p: p, in_axes=({"b": 0},))(
        {"a": X8}), ValueError, r"pmap in_axes specification must be a tree prefix of the "
                                r"corresponding value; pytree structure error: different pytree "
                                r"metadata at key path\n    pmap in_axes\[0\]\[0\]\nAt that key "
                                r"path, the prefix pytree pmap in_axes has a subtree of type "
                                r"dict with keys \['b'\]"),
    ("an empty mapped axis", lambda: spmd.pmap(jnp.sin)(np.zeros((0, 3), np.float32)),
     ValueError, r"pmap got a mapped axis of size 0: .* needs at least one element"),
    ("out_axes not ints", lambda: spmd.pmap(lambda x: x, out_axes="0"), TypeError,
     r"pmap out_axes must be an int, None, or \(nested\) container with those types as "
     r"leaves, but got out_axes='0'"),
]


@pytest.mark.parametrize("call,error,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- no deadlock on CPU
@pytest.mark.parametrize("bound", [1, 2])
def test_step_k_waits_for_step_k_minus_the_bound(monkeypatch, bound):
    events, counter = [], iter(range(100))
    run_with_token = backend.Executable.run_with_token

    class Token:  # records when the loop waits for an execution
        def __init__(self, k, token):
            self.k, self.token = k, token

        def block_until_ready(self):
            events.append(("wait", self.k))
            self.token.block_until_ready()

    def recording_run(self, bufs):
        k = next(counter)
        events.append(("launch", k))
        outs, token = run_with_token(self, bufs)
        return outs, Token(k, token)

    step = spmd.pmap(lambda x: lax.psum(x, "i") * 0.125, axis_name="i")
    x = step(X8)
    inflight.wait_all()
    monkeypatch.setattr(backend.Executable, "run_with_token", recording_run)
    before = spmd.config.max_inflight_executions
    spmd.config.update("max_inflight_executions", bound)
    try:
        for _ in range(4):
            x = step(x)
    finally:
        spmd.config.update("max_inflight_executions", before)
    expected = []
    for k in range(4):
        if k >= bound:
            expected.append(("wait", k - bound))
        expected.append(("launch", k))
    assert events == expected
    assert_close(x, np.broadcast_to(X8.mean(0), X8.shape), rtol=1e-5)


@pytest.mark.timeout(240)
def test_unblocked_loop_of_2000_steps_does_not_deadlock():
    """XLA's CPU collectives deadlock when executions pile up faster than they run (seen with
    jax 0.10.2 after a few hundred steps of this loop); spmd bounds the executions in flight."""
    rng = np.random.default_rng(2)  # with SPMD_MAX_INFLIGHT=0 this loop aborts the process
    w = (rng.standard_normal((64, 64)) * 0.3 / np.sqrt(64)).astype(np.float32)
    b = rng.standard_normal((8, 64, 64)).astype(np.float32) * 0.1
    step = spmd.pmap(lambda x, b: jnp.tanh(lax.pmean(x, "i") @ w + b), axis_name="i")
    x = b
    for _ in range(2000):  # never blocks on a result
        x = step(x, b)
    # The iteration contracts (by a factor < 0.3 per step), so NumPy reaches its fixed point in
    # 100 steps, where the 2000 steps end too.
    host = b
    for _ in range(100):
        host = np.tanh(host.mean(0) @ w + b)
    assert_close(x, host, rtol=1e-5, atol=1e-6)
