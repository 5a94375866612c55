"""Property test: for every differentiable operation of the lax table (lax_cases.py), forward
mode and reverse mode give the same derivatives up to third order, at seeded random points.

With g = <u, f(x)> for a random u and a random direction v, the k-th directional derivative
D^k g[v, ..., v] is computed twice: by k nested jvps (forward over forward), and by k nested
grads each contracted with v (reverse over reverse). They are the same number in exact
arithmetic, and come from disjoint rules (JVP rules vs their transposes)."""
import numpy as np
import pytest

import spmd
from spmd.transforms import dtypes, lax, tree_util
from tests.transforms.lax_cases import Operand, cases

ORDER = 3


def _scalarized(case, args, free, u):
    """x -> sum over the inexact outputs of Re<u, f(x)>, the other arguments held fixed."""
    def g(*xs):
        full = list(args)
        for i, x in zip(free, xs):
            full[i] = x
        outs = [y for y in tree_util.tree_leaves(case.fn(*full))
                if dtypes.is_inexact(np.dtype(y.dtype))]
        total = np.float64(0)
        for y, w in zip(outs, u):
            prod = lax.mul(y, lax.convert_element_type(w, y.dtype))
            prod = lax.real(prod) if dtypes.is_complex(np.dtype(y.dtype)) else prod
            total = total + lax.reduce_sum(prod, tuple(range(prod.ndim)))
        return total
    return g


def _forward(g, v, order):
    for _ in range(order):
        g = (lambda h: lambda *xs: spmd.jvp(h, xs, v)[1])(g)
    return g


def _reverse(g, v, order):
    for _ in range(order):
        def contracted(*xs, h=g):
            grads = spmd.grad(h, argnums=tuple(range(len(xs))))(*xs)
            return sum(lax.reduce_sum(lax.mul(d, w), tuple(range(np.ndim(w))))
                       for d, w in zip(grads, v))
        g = contracted
    return g


@pytest.mark.parametrize("case", cases(lambda c: c.differentiable))
def test_forward_and_reverse_mode_agree_to_third_order(case, x64):
    rng = np.random.default_rng(7)
    free = [i for i, a in enumerate(case.args) if isinstance(a, Operand)]
    args = case.draw(np.dtype(np.float64), seed=5)
    xs = [args[i] for i in free]
    outs = [y for y in tree_util.tree_leaves(case.fn(*args))
            if dtypes.is_inexact(np.dtype(y.dtype))]
    u = [rng.standard_normal(np.shape(y)) for y in outs]
    v = tuple(rng.standard_normal(np.shape(x)) for x in xs)
    g = _scalarized(case, args, free, u)
    # the third order only: its programs contain the lower orders' (test_lax_grad checks those)
    fwd = float(_forward(g, v, ORDER)(*xs))
    rev = float(_reverse(g, v, ORDER)(*xs))
    np.testing.assert_allclose(rev, fwd, rtol=1e-9, atol=1e-9, err_msg=case.name)
