"""lax.split as JAX's primitive split_p: one operand, consecutive chunks of given sizes along an
axis as several results. Linear: its JVP splits the tangent, its transpose joins the chunks'
cotangents (zeros for chunks that got none); lowered as one slice per chunk."""
from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

from spmd.transforms import core
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, deflinear
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.slicing import concatenate
from spmd.transforms.lax.structural import canonical_axis
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import transpose_rules


def _bounds(sizes):
    starts = np.cumsum((0,) + tuple(sizes))
    return list(zip(starts[:-1].tolist(), starts[1:].tolist()))


def _split_aval(x, *, sizes, axis):
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(f"split: the sizes {tuple(sizes)} must be non-negative and sum to the "
                         f"size {x.shape[axis]} of axis {axis} of an array of shape {x.shape}")
    return [ShapedArray(x.shape[:axis] + (s,) + x.shape[axis + 1:], x.dtype, x.weak_type)
            for s in sizes]


def _split_lowering(ctx, x, *, sizes, axis):
    shape = ctx.in_avals[0].shape
    outs = []
    for (lo, hi), aval in zip(_bounds(sizes), ctx.out_avals):
        start = [0] * len(shape)
        limit = list(shape)
        start[axis], limit[axis] = lo, hi
        outs.append(ctx.op("stablehlo.slice", [x], [aval],
                           attrs=f"start_indices = {i64_array(start)}, limit_indices = "
                                 f"{i64_array(limit)}, strides = {i64_array([1] * len(shape))}"))
    return outs


def _split_transpose(cts, x, *, sizes, axis):
    if all(type(ct) is Zero for ct in cts):
        return [None]
    parts = [ew.full(ct.aval.shape, 0, ct.aval.dtype) if type(ct) is Zero else ct for ct in cts]
    return [concatenate(parts, axis)]


def _split_batch(batch_axis, args, dims, *, sizes, axis):
    (x,), (d,) = args, dims
    outs = split_p.bind(x, sizes=sizes, axis=axis + (axis >= d))
    return outs, [d] * len(outs)


split_p = Primitive("split", multiple_results=True)
split_p.def_abstract_eval(_split_aval)
lowering_rules[split_p] = _split_lowering
deflinear(split_p)
transpose_rules[split_p] = _split_transpose
batching_rules[split_p] = _split_batch


def split(operand, sizes: Sequence[int], axis: int = 0) -> list:
    """jax.lax.split: consecutive chunks of the given `sizes` along `axis`."""
    axis = canonical_axis(axis, core.get_aval(operand).ndim, "split")
    return split_p.bind(operand, sizes=tuple(operator.index(s) for s in sizes), axis=axis)
