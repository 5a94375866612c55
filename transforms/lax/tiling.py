"""lax.tile as JAX's primitive tile_p: the operand repeated reps[i] times along each dimension i.
Linear: its JVP tiles the tangent, its transpose sums the copies of the cotangent; lowered as a
broadcast along new interleaved (rep, size) dimensions, then a reshape that merges each pair."""
from __future__ import annotations

import operator
from typing import Sequence

from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import deflinear
from spmd.transforms.lax.reductions import reduce_sum
from spmd.transforms.lax.structural import reshape
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import deftranspose_linear


def _interleaved(shape, reps):
    """(rep0, size0, rep1, size1, ...): the shape whose pairs merge into the tiled shape."""
    return tuple(d for r, s in zip(reps, shape) for d in (r, s))


def _tile_aval(x, *, reps):
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise ValueError(f"tile: reps {reps} must be one non-negative count per dimension of "
                         f"an array of shape {x.shape}")
    return ShapedArray(tuple(r * s for r, s in zip(reps, x.shape)), x.dtype, x.weak_type)


def _tile_lowering(ctx, x, *, reps):
    x_aval = ctx.in_avals[0]
    wide = ShapedArray(_interleaved(x_aval.shape, reps), x_aval.dtype)
    spread = ctx.typed("stablehlo.broadcast_in_dim", [x], [x_aval], wide,
                       attrs=f"broadcast_dimensions = "
                             f"{i64_array(range(1, 2 * len(reps), 2))}")
    return ctx.typed("stablehlo.reshape", [spread], [wide], ctx.out_avals[0])


def _tile_transpose(ct, x, *, reps):
    shape = x.aval.shape
    copies = reshape(ct, _interleaved(shape, reps))
    return reduce_sum(copies, tuple(range(0, 2 * len(reps), 2)))


def _tile_batch(axis, args, dims, *, reps):
    (x,), (d,) = args, dims
    return tile_p.bind(x, reps=reps[:d] + (1,) + reps[d:]), d


tile_p = Primitive("tile")
tile_p.def_abstract_eval(_tile_aval)
lowering_rules[tile_p] = _tile_lowering
deflinear(tile_p)
deftranspose_linear(tile_p, _tile_transpose)
batching_rules[tile_p] = _tile_batch


def tile(operand, reps: Sequence[int]):
    """jax.lax.tile: `operand` repeated reps[i] times along each dimension i."""
    return tile_p.bind(operand, reps=tuple(operator.index(r) for r in reps))
