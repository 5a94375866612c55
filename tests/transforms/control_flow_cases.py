"""The table the control-flow tests share: each case is a program written with spmd.lax control
flow, its oracle written as a plain Python/NumPy loop or branch, float64 arguments, which of
them are differentiable, and how to batch it (stacked arguments and in_axes) for vmap."""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import spmd.numpy as jnp
from spmd import lax

RNG = np.random.default_rng(0)
V = RNG.uniform(0.5, 1.5, 3)            # float64 vectors and matrices reused across cases
W = RNG.uniform(-0.5, 0.5, 3)
M = RNG.uniform(-0.5, 0.5, (3, 3))
XS = RNG.uniform(-1.0, 1.0, (4, 3))     # a scanned input of length 4
XS7 = RNG.uniform(-1.0, 1.0, (7, 3))    # length 7: two rolled trips of 3, then one more
B = 3                                    # the vmap batch size


def batch(*xs):
    return np.stack(xs)


class Case(NamedTuple):
    name: str
    fun: Callable
    oracle: Callable
    args: tuple
    diff: tuple = (0,)                    # differentiable argnums
    grad_modes: tuple = ("fwd", "rev")
    vmap_args: tuple | None = None        # stacked arguments (None: not vmapped)
    in_axes: tuple | None = None


# ---------------------------------------------------------------- cond and switch
def cond_pytree(x, y):
    return lax.cond(jnp.sum(x) > 0,
                    lambda a, b: (jnp.sin(a) * b, {"s": jnp.sum(a)}),
                    lambda a, b: (a * b * b, {"s": jnp.sum(jnp.exp(a))}), x, y)


def cond_pytree_np(x, y):
    if x.sum() > 0:
        return np.sin(x) * y, {"s": x.sum()}
    return x * y * y, {"s": np.exp(x).sum()}


BRANCHES = [lambda a: jnp.sin(a), lambda a: a ** 3, lambda a: jnp.exp(a) * a]
NP_BRANCHES = [np.sin, lambda a: a ** 3, lambda a: np.exp(a) * a]


def switch3(i, x):
    return lax.switch(i, BRANCHES, x)


def switch3_np(i, x):
    return NP_BRANCHES[min(max(int(i), 0), 2)](x)


def cond_int_pred(n, x):
    # an integer predicate: nonzero is true; the false branch returns a weak Python scalar type
    return lax.cond(n, lambda a: a * 2.0, lambda a: a + 1.0, x)


def cond_int_pred_np(n, x):
    return x * 2.0 if n != 0 else x + 1.0


# ---------------------------------------------------------------- while_loop and fori_loop
def while_grow(x):
    # data-dependent trip count: each example of a batch stops at its own iteration
    return lax.while_loop(lambda c: jnp.sum(c[1]) < 8.0,
                          lambda c: (c[0] + 1, c[1] * 1.5 + 0.25), (0, x))


def while_grow_np(x):
    i, c = 0, x
    while c.sum() < 8.0:
        i, c = i + 1, c * 1.5 + 0.25
    return i, c


def while_count(n, x):
    return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, jnp.sin(c[1]) + c[1]),
                          (0, x))[1]


def while_count_np(n, x):
    for _ in range(int(n)):
        x = np.sin(x) + x
    return x


def fori_static(x):
    return lax.fori_loop(1, 4, lambda i, c: jnp.sin(c) * i + c, x)


def fori_static_np(x):
    for i in range(1, 4):
        x = np.sin(x) * i + x
    return x


def fori_bounds(n, x):
    # traced bounds under jit/vmap (a while loop); concrete ones eagerly (a scan)
    return lax.fori_loop(0, n, lambda i, c: c * 0.9 + i, x)


def fori_bounds_np(n, x):
    for i in range(int(n)):
        x = x * 0.9 + i
    return x


# ---------------------------------------------------------------- scan and map
def rnn(m, h, xs):
    return lax.scan(lambda h, x: (jnp.tanh(m @ h + x), jnp.sum(h * x)), h, xs)


def rnn_np(m, h, xs):
    ys = []
    for x in xs:
        h, y = np.tanh(m @ h + x), np.sum(h * x)
        ys.append(y)
    return h, np.stack(ys)


def scan_reverse_unrolled(h, xs):
    # length 7 in trips of 3: two rolled trips, then one iteration written out
    return lax.scan(lambda c, x: (c * x + 1.0, jnp.sin(c)), h, xs, reverse=True, unroll=3)


def scan_reverse_unrolled_np(h, xs):
    ys = [None] * len(xs)
    for i in reversed(range(len(xs))):
        h, ys[i] = h * xs[i] + 1.0, np.sin(h)
    return h, np.stack(ys)


def scan_pytree(h, xs):
    # a dict carry with an integer counter, a tuple of scanned inputs, no ys
    def body(c, x):
        return {"a": c["a"] * x[0] + x[1], "n": c["n"] + 1}, None
    return lax.scan(body, {"a": h, "n": 0}, (xs, xs * 2.0))


def scan_pytree_np(h, xs):
    for x in xs:
        h = h * x + 2.0 * x
    return {"a": h, "n": len(xs)}, None


def scan_no_xs(h):
    return lax.scan(lambda c, _: (jnp.sin(c) + c, jnp.sum(c)), h, None, length=3)


def scan_no_xs_np(h):
    ys = []
    for _ in range(3):
        h, y = np.sin(h) + h, h.sum()
        ys.append(y)
    return h, np.stack(ys)


C = RNG.uniform(-0.5, 0.5, (3, 3))     # a NumPy constant the body closes over


def scan_closed_const(h, xs):
    return lax.scan(lambda c, x: (c @ C + x, None), h, xs)[0]


def scan_closed_const_np(h, xs):
    for x in xs:
        h = h @ C + x
    return h


def map_rows(xs):
    return lax.map(lambda x: jnp.sin(x) * jnp.sum(x), xs)


def map_rows_np(xs):
    return np.stack([np.sin(x) * x.sum() for x in xs])


def map_batched(xs):
    return lax.map(lambda x: jnp.sin(x) * jnp.sum(x), xs, batch_size=3)  # 4 rows: 3 + 1


# ---------------------------------------------------------------- nesting and closures
def nested(w, xs):
    """A scan whose body branches, one branch looping; every body closes over `w`."""
    def body(c, x):
        c = lax.cond(jnp.sum(x) > 0,
                     lambda c: lax.fori_loop(0, 2, lambda i, d: jnp.sin(d * w) + x, c),
                     lambda c: c * w, c)
        return c, jnp.sum(c)
    return lax.scan(body, jnp.ones_like(w), xs)


def nested_np(w, xs):
    c, ys = np.ones_like(w), []
    for x in xs:
        if x.sum() > 0:
            for _ in range(2):
                c = np.sin(c * w) + x
        else:
            c = c * w
        ys.append(c.sum())
    return c, np.stack(ys)


CASES = [
    Case("cond_true", cond_pytree, cond_pytree_np, (V, W), diff=(0, 1),
         vmap_args=(batch(V, -V, V - 1.0), batch(W, V, -W)), in_axes=(0, 0)),
    Case("cond_false", cond_pytree, cond_pytree_np, (-V, W), diff=(0, 1),
         vmap_args=(-V, batch(W, V, -W)), in_axes=(None, 0)),
    Case("cond_int_pred", cond_int_pred, cond_int_pred_np, (np.int32(3), V), diff=(1,),
         vmap_args=(np.array([0, 2, -1], np.int32), batch(V, W, -V)), in_axes=(0, 0)),
    Case("switch_low", switch3, switch3_np, (np.int32(-1), V), diff=(1,),
         vmap_args=(np.array([-1, 1, 7], np.int32), batch(V, W, -V)), in_axes=(0, 0)),
    Case("switch_mid", switch3, switch3_np, (np.int32(1), V), diff=(1,),
         vmap_args=(np.int32(1), batch(V, W, -V)), in_axes=(None, 0)),
    Case("switch_high", switch3, switch3_np, (np.int32(7), W), diff=(1,)),
    Case("while_grow", while_grow, while_grow_np, (V,), grad_modes=("fwd",),
         vmap_args=(batch(V, V * 3.0, V * 0.1),), in_axes=(0,)),
    Case("while_count", while_count, while_count_np, (np.int32(3), V), diff=(1,),
         grad_modes=("fwd",),
         vmap_args=(np.array([0, 2, 4], np.int32), batch(V, W, -V)), in_axes=(0, 0)),
    Case("fori_static", fori_static, fori_static_np, (V,),
         vmap_args=(batch(V, W, -V),), in_axes=(0,)),
    Case("fori_bounds", fori_bounds, fori_bounds_np, (np.int32(3), V), diff=(1,),
         vmap_args=(np.array([1, 0, 3], np.int32), V), in_axes=(0, None)),
    Case("rnn", rnn, rnn_np, (M, V, XS), diff=(0, 1, 2),
         vmap_args=(M, batch(V, W, -V), batch(XS, -XS, XS * 0.5)), in_axes=(None, 0, 0)),
    Case("rnn_xs_axis1", rnn, rnn_np, (M, V, XS), diff=(2,),
         vmap_args=(M, V, np.stack([XS, -XS, XS * 0.5], axis=1)), in_axes=(None, None, 1)),
    Case("scan_reverse_unrolled", scan_reverse_unrolled, scan_reverse_unrolled_np, (W, XS7),
         diff=(0, 1), vmap_args=(batch(W, V, -W), XS7), in_axes=(0, None)),
    Case("scan_pytree", scan_pytree, scan_pytree_np, (W, XS), diff=(0, 1),
         vmap_args=(W, batch(XS, -XS, XS * 0.5)), in_axes=(None, 0)),
    Case("scan_no_xs", scan_no_xs, scan_no_xs_np, (W,),
         vmap_args=(batch(W, V, -W),), in_axes=(0,)),
    Case("scan_closed_const", scan_closed_const, scan_closed_const_np, (W, XS), diff=(0, 1),
         vmap_args=(batch(W, V, -W), XS), in_axes=(0, None)),
    Case("map", map_rows, map_rows_np, (XS,),
         vmap_args=(batch(XS, -XS, XS * 0.5),), in_axes=(0,)),
    Case("map_batch_size", map_batched, map_rows_np, (XS,)),
    Case("nested", nested, nested_np, (W, XS), diff=(0, 1),
         vmap_args=(batch(W, V, -W), batch(XS, -XS, XS * 0.5)), in_axes=(0, 0)),
]


def float_leaves(tree) -> list:
    """The inexact leaves of an output: what gradients are checked on."""
    from spmd.transforms import core, tree_util
    return [x for x in tree_util.tree_leaves(tree)
            if np.issubdtype(core.get_aval(x).dtype, np.inexact)]
