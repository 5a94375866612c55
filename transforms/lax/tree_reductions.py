"""jax.lax.reduce and associative_scan: reductions and scans with a Python
`computation` on pytrees of arrays. The computation is applied to whole arrays in a balanced
tree of log2(n) steps (it must be associative, as XLA's reduce requires), so grad and vmap
follow from its parts."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, tree_util
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.batching import batching_rules
from spmd.transforms.jit import jit
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import jvp_flat, jvp_rules
from spmd.transforms.lax.cumulative import scan_leaves
from spmd.transforms.lax.reductions import reduce_max, reduce_min, reduce_prod, reduce_sum
from spmd.transforms.lax.slicing import concatenate, rev, slice_in_dim
from spmd.transforms.lax.windowed import operands_at_front
from spmd.transforms.lax.structural import (broadcast_in_dim, canonical_axis, reshape, squeeze,
                                            transpose)
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.staging import trace_to_jaxpr


def _leaf_combiner(computation: Callable, treedef, who: str) -> Callable:
    """computation(a, b) on pytrees, as a function of their lists of leaves."""
    def combine(a: list, b: list) -> list:
        out_leaves, out_tree = tree_util.tree_flatten(
            computation(tree_util.tree_unflatten(treedef, a), tree_util.tree_unflatten(treedef, b)))
        if out_tree != treedef:
            raise TypeError(f"{who}: the computation must return the structure of its inputs "
                            f"{treedef}, got {out_tree}")
        return out_leaves
    return combine


def _reduced_dims(shape, dimensions) -> list:
    dims = sorted({canonical_axis(d, len(shape), "reduce") for d in dimensions})
    if len(dims) != len(tuple(dimensions)):
        raise ValueError(f"reduce: dimensions {tuple(dimensions)} repeat an axis")
    return dims


# A computation that is one of lax's monoids reduces with its own primitive, as in JAX
_MONOID_REDUCTIONS = {ew.add: reduce_sum, ew.mul: reduce_prod, ew.max: reduce_max,
                      ew.min: reduce_min}


def reduce(operands, init_values, computation: Callable, dimensions: Sequence[int]):
    """jax.lax.reduce: combine the elements of `operands` (an array or a pytree of arrays of one
    shape) over `dimensions` with the associative `computation`, starting from `init_values`
    (scalars of the operands' structure)."""
    monoid = _MONOID_REDUCTIONS.get(computation)
    if (monoid is not None and hasattr(operands, "shape")
            and core.get_aval(operands).dtype != np.bool_):
        reduced = monoid(operands, tuple(_reduced_dims(core.get_aval(operands).shape,
                                                       dimensions)))
        init = ew.convert_element_type(init_values, core.get_aval(reduced).dtype)
        return computation(broadcast_in_dim(init, core.get_aval(reduced).shape, ()), reduced)
    leaves, treedef, inits, dims = _flat_arguments(operands, init_values, dimensions)
    scalars = [ShapedArray((), core.get_aval(x).dtype) for x in leaves]
    combine = _leaf_combiner(computation, treedef, "reduce")
    flat = lambda *ab: combine(list(ab[:len(leaves)]), list(ab[len(leaves):]))  # noqa: E731
    closed = trace_to_jaxpr(flat, scalars + scalars, core.eval_trace)
    if closed.consts:
        raise TypeError("reduce's computation must not close over arrays: it runs on scalars "
                        "only")
    inits = [ew.convert_element_type(i, a.dtype) for i, a in zip(inits, scalars)]
    outs = reduce_p.bind(*leaves, *inits, computation=flat, jaxpr=closed.jaxpr,
                         dimensions=tuple(dims))
    return tree_util.tree_unflatten(treedef, outs)


def _flat_arguments(operands, init_values, dimensions):
    leaves, treedef = tree_util.tree_flatten(operands)
    inits, init_tree = tree_util.tree_flatten(init_values)
    if init_tree != treedef:
        raise ValueError(f"reduce: operands {treedef} and init_values {init_tree} must have the "
                         "same structure")
    shapes = {core.get_aval(x).shape for x in leaves}
    if len(shapes) != 1:
        raise ValueError(f"reduce: all operands must have one shape, got {sorted(shapes)}")
    return leaves, treedef, inits, _reduced_dims(shapes.pop(), dimensions)


# ---------------------------------------------------------------- reduce_p: XLA's reduce
def _reduce_aval(*args, computation, jaxpr, dimensions):
    n = len(args) // 2
    for x, init in zip(args[:n], args[n:]):
        if init.shape != () or init.dtype != x.dtype:
            raise TypeError(f"reduce: each init value must be a scalar of its operand's dtype "
                            f"{x.dtype}, got shape {init.shape} dtype {init.dtype}")
    return [ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in dimensions), x.dtype)
            for x in args[:n]]


def _reduce_lowering(ctx, *args, computation, jaxpr, dimensions):
    outs = ctx.op("stablehlo.reduce", list(args), regions=[ctx.jaxpr_region(jaxpr)],
                  attrs=f"dimensions = {i64_array(dimensions)}")
    return outs if len(ctx.out_avals) > 1 else [outs]


def _reduce_jvp(primals, tangents, *, computation, jaxpr, dimensions):
    """The tangent of the balanced tree of combines, which the computation's own rules
    differentiate (XLA's reduce is opaque to them)."""
    out = reduce_p.bind(*primals, computation=computation, jaxpr=jaxpr, dimensions=dimensions)
    n = len(primals) // 2
    tree = lambda *args: _reduce(list(args[:n]), list(args[n:]),  # noqa: E731
                                 lambda a, b: computation(*a, *b), dimensions)
    _, out_tangents = jvp_flat(tree, list(primals), list(tangents))
    return out, out_tangents


def _reduce_batch(axis, args, dims, *, computation, jaxpr, dimensions):
    operands = operands_at_front("reduce", axis, args, dims)
    outs = reduce_p.bind(*operands, *args[len(operands):], computation=computation, jaxpr=jaxpr,
                         dimensions=tuple(d + 1 for d in dimensions))
    return outs, [0] * len(operands)


reduce_p = Primitive("reduce", multiple_results=True)
reduce_p.def_abstract_eval(_reduce_aval)
lowering_rules[reduce_p] = _reduce_lowering
jvp_rules[reduce_p] = _reduce_jvp
batching_rules[reduce_p] = _reduce_batch


def _reduce(operands, init_values, computation: Callable, dimensions: tuple):
    """The reduction as a balanced tree of combines of whole arrays (differentiable by parts)."""
    leaves, treedef, inits, dims = _flat_arguments(operands, init_values, dimensions)
    shape = core.get_aval(leaves[0]).shape
    kept = [d for d in range(len(shape)) if d not in dims]
    out_shape = tuple(shape[d] for d in kept)
    n = int(np.prod([shape[d] for d in dims], dtype=int))
    # The reduced dimensions become one leading axis of length n
    rows = [reshape(transpose(x, tuple(dims + kept)), (n,) + out_shape) for x in leaves]
    combine = _leaf_combiner(computation, treedef, "reduce")
    while n > 1:
        half = n // 2
        paired = combine([slice_in_dim(r, 0, 2 * half, 2, 0) for r in rows],
                         [slice_in_dim(r, 1, 2 * half, 2, 0) for r in rows])
        if n % 2:
            paired = [concatenate([p, slice_in_dim(r, n - 1, n, 1, 0)], 0)
                      for p, r in zip(paired, rows)]
        rows, n = paired, half + n % 2
    starts = [broadcast_in_dim(ew.convert_element_type(i, core.get_aval(x).dtype), out_shape, ())
              for i, x in zip(inits, leaves)]
    if n == 1:
        starts = combine(starts, [squeeze(r, (0,)) for r in rows])
    return tree_util.tree_unflatten(treedef, starts)


def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
    """jax.lax.associative_scan: the inclusive prefix combine of `elems` (an array or a pytree
    of arrays sharing `axis`'s length) with the associative `fn(earlier, later)`."""
    if not callable(fn):
        raise TypeError("lax.associative_scan: fn argument should be callable.")
    leaves, treedef = tree_util.tree_flatten(elems)
    if not leaves:
        raise ValueError("associative_scan needs at least one array in elems")
    ndim = core.get_aval(leaves[0]).ndim
    axis = canonical_axis(axis, ndim, "associative_scan")
    lengths = {core.get_aval(x).shape[axis] for x in leaves}
    if len(lengths) != 1:
        raise ValueError(f"associative_scan: all elems must have the same length along axis "
                         f"{axis}, got {sorted(lengths)}")
    if all(core.is_concrete(x) for x in leaves):
        # One compiled program instead of one per slice and combine of the scan
        return jit(_associative_scan, static_argnums=(0, 2, 3))(fn, elems, bool(reverse), axis)
    return _associative_scan(fn, elems, bool(reverse), axis)


def _associative_scan(fn: Callable, elems, reverse: bool, axis: int):
    leaves, treedef = tree_util.tree_flatten(elems)
    combine = _leaf_combiner(fn, treedef, "associative_scan")
    if reverse:
        # As JAX: the scan runs over the reversed elements, fn(z, y) then fn(fn(z, y), x)
        out = scan_leaves(combine, [rev(x, (axis,)) for x in leaves], axis)
        return tree_util.tree_unflatten(treedef, [rev(x, (axis,)) for x in out])
    return tree_util.tree_unflatten(treedef, scan_leaves(combine, leaves, axis))
