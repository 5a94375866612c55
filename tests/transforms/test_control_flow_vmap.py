"""vmap of structured control flow against the loop over examples (tests/oracles.py
check_mapped): batched and unbatched predicates and indices (a batched one runs every branch and
selects; a batched while predicate runs until every example is done), batched consts, carries
and scanned inputs along any axis, and vmap composed with jit, grad and itself."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from tests.oracles import assert_close, check_mapped
from tests.transforms.control_flow_cases import CASES, V, W, XS, batch


def _f32(args):
    return tuple(np.asarray(a, np.float32) if np.issubdtype(np.asarray(a).dtype, np.floating)
                 else a for a in args)


MAPPED = [c for c in CASES if c.vmap_args is not None]


@pytest.mark.parametrize("case", MAPPED, ids=[c.name for c in MAPPED])
def test_vmap(case):
    args = _f32(case.vmap_args)
    check_mapped(spmd.vmap(case.fun, in_axes=case.in_axes), case.fun, args, in_axes=case.in_axes)


@pytest.mark.parametrize("name", ["while_grow", "switch_low", "rnn_xs_axis1"])
def test_jit_of_vmap(name):
    case = next(c for c in MAPPED if c.name == name)
    args = _f32(case.vmap_args)
    check_mapped(spmd.jit(spmd.vmap(case.fun, in_axes=case.in_axes)), case.fun, args,
                 in_axes=case.in_axes)


def _loss(w, xs):
    h, ys = lax.scan(lambda c, x: (jnp.tanh(c * w + x), jnp.sum(c)), jnp.ones_like(w), xs)
    branch = lax.cond(jnp.sum(w) > 0, lambda h: jnp.sin(h), lambda h: h * h, h)
    return jnp.sum(branch) + jnp.sum(ys)


def test_vmap_of_grad_and_grad_of_vmap():
    ws = _f32((batch(W, -W, V),))[0]       # predicates differ across the batch
    xs = XS.astype(np.float32)
    per_example = spmd.vmap(spmd.grad(_loss), in_axes=(0, None))
    check_mapped(per_example, spmd.grad(_loss), (ws, xs), in_axes=(0, None))
    summed = spmd.grad(lambda ws: jnp.sum(spmd.vmap(_loss, in_axes=(0, None))(ws, xs)))(ws)
    assert_close(summed, per_example(ws, xs))


def _halvings(x):
    # a different trip count per element of x and per example
    return lax.while_loop(lambda c: jnp.max(c[1]) > 1.0,
                          lambda c: (c[0] + 1, c[1] * 0.5), (0, x))


def test_nested_vmap_of_a_while_with_batched_predicate():
    xs = np.array([[[1.0, 8.0], [3.0, 0.5]], [[40.0, 2.0], [0.25, 0.75]]], np.float32)
    inner = spmd.vmap(_halvings)
    check_mapped(spmd.vmap(inner), inner, (xs,))
    check_mapped(inner, _halvings, (xs[0],))


def test_vmap_of_jvp_through_while():
    def f(x):
        return lax.while_loop(lambda c: jnp.sum(c) < 6.0, lambda c: jnp.sin(c) + c, x)

    def tangent(x, t):
        return spmd.jvp(f, (x,), (t,))[1]
    xs = _f32((batch(V, V * 2.0, V * 0.5),))[0]
    check_mapped(spmd.vmap(tangent), tangent, (xs, np.ones_like(xs)))


def test_grad_of_vmap_of_cond_ignores_the_branch_not_taken():
    # sqrt'(0) is infinite; the example at 0 takes the other branch, whose derivative is 0
    def f(x):
        return lax.cond(x > 0, jnp.sqrt, lambda x: x * 0.0, x)
    xs = np.array([0.0, 4.0], np.float32)
    summed = spmd.grad(lambda xs: jnp.sum(spmd.vmap(f)(xs)))(xs)
    assert_close(summed, np.array([0.0, 0.25], np.float32))
    check_mapped(spmd.vmap(spmd.grad(f)), spmd.grad(f), (xs,))


def _collective_loops(x):
    """Control flow whose bodies run collectives over the mapped axis "i"."""
    c, ys = lax.scan(lambda c, x: (c + lax.psum(x * c, "i"), jnp.sum(c)), x,
                     np.ones((2, 3), np.float32))
    c = lax.cond(jnp.sum(c) > 0, lambda a: lax.pmean(a, "i"), lambda a: a, c)
    c = lax.fori_loop(0, 2, lambda k, a: lax.pmax(a, "i") * 0.5 + a, c)
    return c, ys


def test_pmap_equals_vmap_with_collectives_in_bodies():
    xs = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0
    expected = spmd.vmap(_collective_loops, axis_name="i")(xs)
    assert_close(spmd.pmap(_collective_loops, axis_name="i")(xs), expected)
    grad = spmd.grad(lambda x: jnp.sum(_collective_loops(x)[0] ** 2))
    assert_close(spmd.pmap(grad, axis_name="i")(xs), spmd.vmap(grad, axis_name="i")(xs),
                 rtol=1e-4)
