"""The independent oracles every test uses: NumPy comparison with per-dtype tolerances, central
finite differences for gradients (plus JVP/VJP consistency), and mapped-equals-looped."""
from __future__ import annotations

import numpy as np

import spmd
from spmd.transforms import dtypes, tree_util

_TOL = {np.dtype(np.float16): 1e-2, dtypes.bfloat16: 5e-2, np.dtype(np.float32): 1e-5,
        np.dtype(np.float64): 1e-12, np.dtype(np.complex64): 1e-5,
        np.dtype(np.complex128): 1e-12}


def tolerance(dtype, scale=1.0):
    return _TOL.get(np.dtype(dtype), 0) * scale


def assert_close(actual, expected, rtol=None, atol=None, check_dtype=True):
    """Leafwise comparison of pytrees of arrays against NumPy values."""
    a_leaves, a_tree = tree_util.tree_flatten(actual)
    e_leaves, e_tree = tree_util.tree_flatten(expected)
    assert a_tree == e_tree, f"structure {a_tree} != {e_tree}"
    for a, e in zip(a_leaves, e_leaves):
        a_np, e_np = np.asarray(a), np.asarray(e)
        assert a_np.shape == e_np.shape, f"shape {a_np.shape} != {e_np.shape}"
        if check_dtype:
            assert a_np.dtype == e_np.dtype, f"dtype {a_np.dtype} != {e_np.dtype}"
        tol_dtype = a_np.dtype if np.issubdtype(a_np.dtype, np.inexact) or \
            a_np.dtype == dtypes.bfloat16 else np.float64
        r = tolerance(tol_dtype, 10) if rtol is None else rtol
        t = r if atol is None else atol
        if a_np.dtype == dtypes.bfloat16 or a_np.dtype == np.float16:
            a_np, e_np = a_np.astype(np.float32), e_np.astype(np.float32)
        np.testing.assert_allclose(a_np, e_np, rtol=r, atol=t, equal_nan=True)


def _flat(x):
    return np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in tree_util.tree_leaves(x)]
                          ) if tree_util.tree_leaves(x) else np.zeros(0)


def numerical_jvp(f, args, tangents, eps=1e-6):
    """Central difference of f along `tangents` (float64 inputs expected)."""
    plus = f(*tree_util.tree_map(lambda x, t: x + eps * t, args, tangents))
    minus = f(*tree_util.tree_map(lambda x, t: x - eps * t, args, tangents))
    return tree_util.tree_map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64))
                              / (2 * eps), plus, minus)


def _random_like(rng, tree):
    return tree_util.tree_map(
        lambda x: rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype), tree)


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-6, rtol=1e-5, atol=1e-5, seed=0):
    """Check f's derivatives at `args` (a tuple of float64 pytrees) to `order`: forward mode
    against central differences, reverse mode by <u, J v> = <J^T u, v>, recursively."""
    rng = np.random.default_rng(seed)
    args = tuple(args)
    v = _random_like(rng, args)
    if "fwd" in modes:
        _, out_t = spmd.jvp(f, args, v)
        expected = numerical_jvp(f, args, v, eps)
        assert_close(tree_util.tree_map(lambda x: np.asarray(x, np.float64), out_t), expected,
                     rtol=rtol, atol=atol, check_dtype=False)
    if "rev" in modes:
        out, vjp_fn = spmd.vjp(f, *args)
        u = _random_like(rng, out)
        (_, jv) = spmd.jvp(f, args, v)
        lhs = float(np.dot(_flat(u), _flat(jv)))
        ju = vjp_fn(u)
        rhs = float(np.dot(_flat(ju), _flat(v)))
        assert np.isclose(lhs, rhs, rtol=max(rtol, 1e-6), atol=atol), (f"<u,Jv>={lhs} != "
                                                                        f"<J^T u,v>={rhs}")
        if "fwd" not in modes:
            expected = numerical_jvp(f, args, v, eps)
            assert np.isclose(float(np.dot(_flat(u), _flat(expected))), rhs, rtol=1e-4, atol=atol)
    if order > 1:
        def directional(*xs):
            return spmd.jvp(f, xs, v)[1]
        check_grads(directional, args, order - 1, modes, eps, rtol * 10, atol * 10, seed + 1)


def check_mapped(mapped, fun, xs, in_axes=0, out_axes=0, rtol=None, atol=None):
    """vmap/pmap oracle: `mapped(*xs)` equals stacking `fun` over the mapped axis."""
    args = tuple(xs)
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    size = next(np.shape(x)[a] for x, a in zip(args, axes) if a is not None)
    outs = []
    for i in range(size):
        sliced = [x if a is None else np.take(np.asarray(x), i, axis=a) for x, a in zip(args, axes)]
        outs.append(tree_util.tree_map(np.asarray, fun(*sliced)))
    expected = tree_util.tree_map(lambda *ys: np.stack(ys, axis=out_axes), *outs)
    assert_close(mapped(*args), expected, rtol=rtol, atol=atol)
