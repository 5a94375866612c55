"""argmax and argmin along one axis: a variadic stablehlo.reduce over (value, index) pairs.

As in NumPy, the first occurrence wins ties and a NaN beats every number (the first NaN wins).
The combiner is a total order on pairs (value first, then the lower index), so the result does
not depend on the order in which XLA combines elements. The output is an integer: no tangent.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import scalar_region
from spmd.transforms.lax.structural import canonical_axis
from spmd.transforms.lowering import i64_array, lowering_rules


def _aval(name):
    def rule(x, *, axes, index_dtype):
        (axis,) = axes
        if not 0 <= axis < x.ndim:
            raise ValueError(f"{name}: axis {axis} is out of bounds for an array of shape "
                             f"{x.shape}")
        if x.shape[axis] == 0:
            raise ValueError(f"{name}: cannot take the {name} of an empty axis (axis {axis} of "
                             f"an array of shape {x.shape})")
        if dtypes.is_complex(x.dtype):
            raise TypeError(f"{name} does not accept complex operands ({x.dtype}); take the "
                            "real part or the absolute value first")
        if not dtypes.is_integer(index_dtype):
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype)
    return rule


def _better(prefer_larger: bool):
    """combine((value, index), (value, index)) -> the winner, for scalars."""
    def combine(a, i, b, j):
        beats = ew.gt(a, b) if prefer_larger else ew.lt(a, b)
        ties = ew.eq(a, b)
        if dtypes.is_float(core.get_aval(a).dtype):
            a_nan, b_nan = ew.ne(a, a), ew.ne(b, b)
            beats = ew.bitwise_or(beats, ew.bitwise_and(a_nan, ew.bitwise_not(b_nan)))
            ties = ew.bitwise_or(ties, ew.bitwise_and(a_nan, b_nan))
        pick_a = ew.bitwise_or(beats, ew.bitwise_and(ties, ew.lt(i, j)))
        return [ew.select(pick_a, a, b), ew.select(pick_a, i, j)]
    return combine


def _worst(dtype, prefer_larger: bool):
    """The start value of the reduction: one no element can lose to."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.array(not prefer_larger)
    if dtypes.is_float(dtype):
        return np.array(-np.inf if prefer_larger else np.inf, dtype)
    info = np.iinfo(dtype)
    return np.array(info.min if prefer_larger else info.max, dtype)


def _lowering(prefer_larger: bool):
    def lower(ctx, x, *, axes, index_dtype):
        x_aval = ctx.in_avals[0]
        idx_aval = ShapedArray(x_aval.shape, index_dtype)
        value, index = ShapedArray((), x_aval.dtype), ShapedArray((), index_dtype)
        iota = ctx.op("stablehlo.iota", [], [idx_aval], attrs=f"iota_dimension = {axes[0]} : i64",
                      operand_avals=[])
        init_value = ctx.constant(_worst(x_aval.dtype, prefer_larger), value)
        init_index = ctx.constant(np.zeros((), index_dtype), index)
        region = scalar_region(ctx, _better(prefer_larger), [value, index, value, index])
        out = ctx.out_avals[0]
        results = ctx.op("stablehlo.reduce", [x, iota, init_value, init_index],
                         out_avals=[out.update(dtype=x_aval.dtype), out],
                         attrs=f"dimensions = {i64_array(axes)}", regions=[region],
                         operand_avals=[x_aval, idx_aval, value, index])
        return results[1]
    return lower


def _batch(prim):
    def rule(frame, args, dims, *, axes, index_dtype):
        (x,), (d,) = args, dims
        (axis,) = axes
        moved = axis + (d <= axis)
        return prim.bind(x, axes=(moved,), index_dtype=index_dtype), d - (moved < d)
    return rule


def _declare(name, prefer_larger) -> Primitive:
    prim = Primitive(name)
    prim.def_abstract_eval(_aval(name))
    lowering_rules[prim] = _lowering(prefer_larger)
    defjvp_zero(prim)
    batching_rules[prim] = _batch(prim)
    return prim


argmax_p = _declare("argmax", prefer_larger=True)
argmin_p = _declare("argmin", prefer_larger=False)


def _bind(prim, operand, axis, index_dtype):
    axis = canonical_axis(axis, core.get_aval(operand).ndim, prim.name)
    return prim.bind(operand, axes=(axis,), index_dtype=dtypes.canonicalize(index_dtype))


def argmax(operand, axis, index_dtype):
    """Index of the largest element along `axis` (lax.argmax)."""
    return _bind(argmax_p, operand, axis, index_dtype)


def argmin(operand, axis, index_dtype):
    """Index of the smallest element along `axis` (lax.argmin)."""
    return _bind(argmin_p, operand, axis, index_dtype)
