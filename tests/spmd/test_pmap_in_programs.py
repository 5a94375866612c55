"""A pmap inside a compiled program (jit, cond, fori_loop, scan, an outer pmap) computes the
same numbers as the pmap called on its own (or the vmap with the same axis names), gradients
included. Inside jit (and control flow within it) it runs over its devices as a shard_map, as
in JAX, and the jit's results live on them; nested in another pmap or in eager control flow it
computes as a vmap on the enclosing program's device."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from spmd.sharding import PartitionSpec as P
from tests.oracles import assert_close

RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 3)).astype(np.float32)
W = np.float32(0.7)


def step(x):
    """A per-device step with collectives of every family."""
    return (x * 2 + lax.psum(x, "i"), lax.pmax(x, "i") - lax.axis_index("i"),
            lax.all_gather(x, "i")[::-1].sum(0) + lax.ppermute(x, "i", [(0, 1), (1, 2), (2, 3),
                                                                         (3, 0)]))


PSTEP = spmd.pmap(step, axis_name="i")
BROADCAST = spmd.pmap(lambda x, w: (x * w, lax.pmean(x, "i")), axis_name="i",
                      in_axes=(0, None), out_axes=(0, None))


@pytest.mark.parametrize("wrap", [
    ("jit", lambda f: spmd.jit(f)),
    ("cond", lambda f: lambda *a: lax.cond(True, f, lambda *b: f(*b), *a)),
    ("jit of cond", lambda f: spmd.jit(lambda *a: lax.cond(a[0].sum() > -1e9, f, f, *a))),
], ids=lambda w: w[0])
@pytest.mark.parametrize("pmapped, args", [(PSTEP, (X,)), (BROADCAST, (X, W))],
                         ids=["collectives", "broadcast in and out"])
def test_pmap_in_a_program_equals_the_pmap(wrap, pmapped, args):
    out = wrap[1](pmapped)(*args)
    assert_close(out, pmapped(*args))
    if wrap[0].startswith("jit"):
        _on_devices(out[0], P("i", None))


@pytest.mark.parametrize("jitted", [False, True], ids=["eager loops", "loops in jit"])
def test_pmap_in_fori_loop_and_scan_equals_repeated_calls(jitted):
    f = spmd.pmap(lambda x: x * 0.5 + lax.pmean(x, "i"), axis_name="i")
    want = f(f(f(X)))
    wrap = spmd.jit if jitted else (lambda g: g)
    looped = wrap(lambda x: lax.fori_loop(0, 3, lambda i, c: f(c), x))(X)
    carry, ys = wrap(lambda x: lax.scan(lambda c, _: (f(c), c.sum()), x, None, length=3))(X)
    assert_close(looped, want)
    assert_close((carry, ys), (want, np.array([X.sum(), f(X).sum(), f(f(X)).sum()])),
                 rtol=1e-5)
    # the oracle: each step is x / 2 + the mean of the rows
    rows = X
    for _ in range(3):
        rows = rows * 0.5 + rows.mean(0)
    assert_close(looped, rows, rtol=1e-5)
    if jitted:
        _on_devices(looped, P("i", None))
        _on_devices(carry, P("i", None))


def test_jitted_training_step_with_pmap_matches_unjitted_and_its_gradient():
    def loss(w, xs):
        per_device = spmd.pmap(lambda w, x: lax.pmean(jnp.sum(jnp.sin(x * w) ** 2), "i"),
                               axis_name="i", in_axes=(None, 0))
        return per_device(w, xs)[0]

    g = spmd.grad(loss)(W, X)
    assert_close(spmd.jit(spmd.grad(loss))(W, X), g)
    assert_close(spmd.grad(spmd.jit(loss))(W, X), g)
    # the oracle: d/dw mean over rows of sum(sin(x w)^2) = mean of sum(2 sin cos x)
    want = np.mean(np.sum(2 * np.sin(X * W) * np.cos(X * W) * X, axis=1))
    assert_close(g, want, rtol=1e-5)


def test_jitted_train_step_with_a_pmapped_gradient_equals_numpy_descent():
    """Data-parallel least squares: per-device gradients pmean'ed by a pmap inside the jitted
    step, which then updates the (replicated) weights."""
    y = X @ np.array([1.0, -2.0, 0.5], np.float32)

    def grads(w, x, t):
        return lax.pmean(spmd.grad(lambda w: jnp.sum((x @ w - t) ** 2))(w), "i")

    @spmd.jit
    def step(w, xs, ts):
        g = spmd.pmap(grads, axis_name="i", in_axes=(None, 0, 0), out_axes=None)(w, xs, ts)
        return w - 0.1 * g, jnp.mean((xs @ w - ts) ** 2)

    w, w_np = jnp.zeros(3), np.zeros(3, np.float32)
    for _ in range(3):
        w, loss = step(w, X, y)
        loss_np = np.mean((X @ w_np - y) ** 2)
        w_np = w_np - 0.1 * np.mean(2 * X * (X @ w_np - y)[:, None], axis=0)
        assert_close(loss, loss_np, rtol=1e-5)
    assert_close(w, w_np, rtol=1e-5)
    _on_devices(w, None)


def _on_devices(x, spec):
    """Assert `x` lives on the pmap's 4 devices, laid out by `spec` over the axis 'i' (None:
    the same value on each)."""
    assert x.sharding.mesh.axis_names == ("i",)
    assert [d.id for d in x.sharding.mesh.flat_devices] == [d.id for d in spmd.devices()[:4]]
    if spec is None:
        assert x.sharding.is_fully_replicated
    else:
        assert x.sharding.spec == spec
    assert len(x.addressable_shards) == 4


def test_jitted_pmap_runs_over_its_devices_as_a_shard_map():
    out = spmd.jit(PSTEP)(X)
    for o in out:
        _on_devices(o, P("i", None))
    assert_close(out[0], X * 2 + X.sum(0), rtol=1e-5)  # the NumPy oracle of psum
    text = spmd.jit(PSTEP).lower(X).as_text()
    assert "mhlo.num_partitions = 4 " in text and "sdy.manual_computation" in text
    mapped, mean = spmd.jit(BROADCAST)(X, W)
    _on_devices(mapped, P("i", None))
    _on_devices(mean, None)
    # a result of the jit feeds the eager pmap (and the jit again) as it is
    assert_close(PSTEP(out[0]), PSTEP(X * 2 + X.sum(0)), rtol=1e-5)
    assert_close(spmd.jit(PSTEP)(out[0])[0], PSTEP(out[0])[0], rtol=1e-5)


def test_jitted_pmap_with_in_axes_none_and_out_axes_1():
    def f(w, x):
        return w * x + lax.psum(x, "i"), lax.axis_index("i") * jnp.ones(2, jnp.int32)
    g = spmd.pmap(f, axis_name="i", in_axes=(None, 1), out_axes=1)
    xt = X.T.copy()  # (3, 4): mapped along dimension 1, device k holds X[k]
    out = spmd.jit(g)(W, xt)
    assert_close(out, g(W, xt))
    assert_close(out[0], (W * X + X.sum(0)).T, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(out[1]), np.tile(np.arange(4), (2, 1)))
    _on_devices(out[0], P(None, "i"))


def test_nested_pmap_equals_nested_vmap_and_its_gradient():
    def inner(a):
        return lax.psum(a, ("i", "j")) * lax.axis_index("j") + lax.pmax(a, "j")
    x = X[:, :2]
    nested = spmd.pmap(spmd.pmap(inner, axis_name="j"), axis_name="i")
    oracle = spmd.vmap(spmd.vmap(inner, axis_name="j"), axis_name="i")
    assert_close(nested(x), oracle(x))
    assert_close(spmd.jit(nested)(x), oracle(x))  # the outer over the devices, the inner a vmap
    assert_close(nested(x), x.sum() * np.arange(2, dtype=np.float32) + x.max(1, keepdims=True),
                 rtol=1e-5)
    loss = lambda f: lambda x: jnp.sum(jnp.sin(f(x)))  # noqa: E731
    assert_close(spmd.grad(loss(nested))(x), spmd.grad(loss(oracle))(x), rtol=1e-5)
    bools = spmd.pmap(spmd.pmap(jnp.logical_not))(x > 0)
    np.testing.assert_array_equal(np.asarray(bools), ~(x > 0))


def test_vmap_of_a_pmap_and_an_unnamed_pmap_inside_jit():
    f = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    xs = np.stack([X, 2 * X], 1)  # the vmapped axis second
    out = spmd.jit(spmd.vmap(f, in_axes=1))(xs)
    rows = np.broadcast_to(X.sum(0), X.shape)
    assert_close(out, np.stack([rows, 2 * rows]), rtol=1e-5)
    unnamed = spmd.jit(spmd.pmap(lambda v: v * 2))(X)
    assert_close(unnamed, X * 2)
    assert len(unnamed.addressable_shards) == 4


def test_pmaps_over_different_devices_in_one_jit_are_refused():
    f = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    with pytest.raises(ValueError, match=r"shardings name several meshes .*the pmaps of one jit "
                                         r"need the same devices and axis name"):
        spmd.jit(lambda a, b: (f(a), f(b)))(X, X[:2])
