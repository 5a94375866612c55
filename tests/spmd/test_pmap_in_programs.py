"""A pmap inside a compiled program (jit, cond, fori_loop, scan, an outer pmap) computes the
same numbers as the pmap called on its own (or the vmap with the same axis names), gradients
included; inside jit it stays a one-device program with no collectives (nothing for XLA's CPU
collectives to deadlock on)."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
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
    assert_close(wrap[1](pmapped)(*args), pmapped(*args))


def test_pmap_in_fori_loop_and_scan_equals_repeated_calls():
    f = spmd.pmap(lambda x: x * 0.5 + lax.pmean(x, "i"), axis_name="i")
    want = f(f(f(X)))
    assert_close(lax.fori_loop(0, 3, lambda i, c: f(c), X), want)
    carry, ys = lax.scan(lambda c, _: (f(c), c.sum()), X, None, length=3)
    assert_close((carry, ys), (want, np.array([X.sum(), f(X).sum(), f(f(X)).sum()])),
                 rtol=1e-5)


def test_jitted_training_step_with_pmap_matches_unjitted_and_its_gradient():
    def loss(w, xs):
        per_device = spmd.pmap(lambda w, x: lax.pmean(jnp.sum(jnp.sin(x * w) ** 2), "i"),
                               axis_name="i", in_axes=(None, 0))
        return per_device(w, xs)[0]

    g = spmd.grad(loss)(W, X)
    assert_close(spmd.jit(spmd.grad(loss))(W, X), g)
    # the oracle: d/dw mean over rows of sum(sin(x w)^2) = mean of sum(2 sin cos x)
    want = np.mean(np.sum(2 * np.sin(X * W) * np.cos(X * W) * X, axis=1))
    assert_close(g, want, rtol=1e-5)


def test_pmap_inside_jit_compiles_to_one_device_with_no_collectives():
    text = spmd.jit(PSTEP).lower(X).as_text()
    assert "mhlo.num_replicas = 1 " in text
    assert "all_reduce" not in text and "collective_permute" not in text


def test_nested_pmap_equals_nested_vmap_and_its_gradient():
    def inner(a):
        return lax.psum(a, ("i", "j")) * lax.axis_index("j") + lax.pmax(a, "j")
    x = X[:, :2]
    nested = spmd.pmap(spmd.pmap(inner, axis_name="j"), axis_name="i")
    oracle = spmd.vmap(spmd.vmap(inner, axis_name="j"), axis_name="i")
    assert_close(nested(x), oracle(x))
    assert_close(nested(x), x.sum() * np.arange(2, dtype=np.float32) + x.max(1, keepdims=True),
                 rtol=1e-5)
    loss = lambda f: lambda x: jnp.sum(jnp.sin(f(x)))  # noqa: E731
    assert_close(spmd.grad(loss(nested))(x), spmd.grad(loss(oracle))(x), rtol=1e-5)
    bools = spmd.pmap(spmd.pmap(jnp.logical_not))(x > 0)
    np.testing.assert_array_equal(np.asarray(bools), ~(x > 0))
