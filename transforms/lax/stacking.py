"""lax.stack and lax.unstack as JAX's primitives stack_p and unstack_p, each the other's
transpose: stack joins arrays of one shape along a new axis, unstack returns the arrays along an
axis as several results. Lowered as reshapes and a concatenate, or as slices and reshapes."""
from __future__ import annotations

from typing import Sequence

from spmd.transforms import core
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, deflinear
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.structural import canonical_axis
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


def _with_axis(shape, axis, size):
    return shape[:axis] + (size,) + shape[axis:]


def _stack_aval(*xs, axis):
    if not xs:
        raise ValueError("stack needs at least one array to stack")
    if len({(x.shape, x.dtype) for x in xs}) > 1:
        raise TypeError(f"stack: all arrays must have one shape and dtype, got "
                        f"{', '.join(x.str_short() for x in xs)}")
    return ShapedArray(_with_axis(xs[0].shape, axis, len(xs)), xs[0].dtype,
                       all(x.weak_type for x in xs))


def _stack_lowering(ctx, *xs, axis):
    x_aval = ctx.in_avals[0]
    one = ShapedArray(_with_axis(x_aval.shape, axis, 1), x_aval.dtype)
    parts = [ctx.typed("stablehlo.reshape", [x], [x_aval], one) for x in xs]
    return ctx.op("stablehlo.concatenate", parts, operand_avals=[one] * len(parts),
                  attrs=f"dimension = {axis} : i64")


def _stack_transpose(ct, *xs, axis):
    if type(ct) is Zero:
        return [None] * len(xs)
    cts = unstack_p.bind(ct, axis=axis)
    return [c if is_undefined(x) else None for c, x in zip(cts, xs)]


def _stack_batch(batch_axis, args, dims, *, axis):
    moved = [bdim_at_front(x, d, batch_axis.size) for x, d in zip(args, dims)]
    return stack_p.bind(*moved, axis=axis + 1), 0


stack_p = Primitive("stack")
stack_p.def_abstract_eval(_stack_aval)
lowering_rules[stack_p] = _stack_lowering
deflinear(stack_p)
transpose_rules[stack_p] = _stack_transpose
batching_rules[stack_p] = _stack_batch


def _unstack_aval(x, *, axis):
    return [ShapedArray(x.shape[:axis] + x.shape[axis + 1:], x.dtype, x.weak_type)
            for _ in range(x.shape[axis])]


def _unstack_lowering(ctx, x, *, axis):
    x_aval = ctx.in_avals[0]
    one = ShapedArray(_with_axis(x_aval.shape[:axis] + x_aval.shape[axis + 1:], axis, 1),
                      x_aval.dtype)
    outs = []
    for i, aval in enumerate(ctx.out_avals):
        start, limit = [0] * x_aval.ndim, list(x_aval.shape)
        start[axis], limit[axis] = i, i + 1
        piece = ctx.typed("stablehlo.slice", [x], [x_aval], one,
                          attrs=f"start_indices = {i64_array(start)}, limit_indices = "
                                f"{i64_array(limit)}, strides = {i64_array([1] * x_aval.ndim)}")
        outs.append(ctx.typed("stablehlo.reshape", [piece], [one], aval))
    return outs


def _unstack_transpose(cts, x, *, axis):
    if all(type(ct) is Zero for ct in cts):
        return [None]
    parts = [ew.full(ct.aval.shape, 0, ct.aval.dtype) if type(ct) is Zero else ct for ct in cts]
    return [stack_p.bind(*parts, axis=axis)]


def _unstack_batch(batch_axis, args, dims, *, axis):
    (x,), (d,) = args, dims
    outs = unstack_p.bind(x, axis=axis + (axis >= d))
    return outs, [d - (axis < d)] * len(outs)


unstack_p = Primitive("unstack", multiple_results=True)
unstack_p.def_abstract_eval(_unstack_aval)
lowering_rules[unstack_p] = _unstack_lowering
deflinear(unstack_p)
transpose_rules[unstack_p] = _unstack_transpose
batching_rules[unstack_p] = _unstack_batch


def stack(operands: Sequence, axis: int = 0):
    """jax.lax.stack: join arrays of one shape along a new `axis`."""
    operands = list(operands)
    if not operands:
        raise ValueError("stack needs at least one array to stack")
    axis = canonical_axis(axis, core.get_aval(operands[0]).ndim + 1, "stack")
    return stack_p.bind(*operands, axis=axis)


def unstack(x, axis: int = 0) -> tuple:
    """jax.lax.unstack: the arrays of `x` along `axis`, that axis removed."""
    axis = canonical_axis(axis, core.get_aval(x).ndim, "unstack")
    return tuple(unstack_p.bind(x, axis=axis))
