"""Reductions over a set of axes: sum, max, min, prod, and, or, xor. One shape rule and one lowering
(stablehlo.reduce with a scalar combiner region) serve them all."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, deflinear, defjvp_zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.structural import broadcast_in_dim, broadcast_in_dim_p, reshape
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import deftranspose_linear


def _reduce_aval(x, *, axes):
    for a in axes:
        if not 0 <= a < x.ndim:
            raise ValueError(f"reduction axis {a} is out of range for an array of shape {x.shape}")
    return ShapedArray(tuple(n for i, n in enumerate(x.shape) if i not in axes), x.dtype,
                       x.weak_type)


def _identity(kind: str, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)
    if kind == "prod":
        return np.ones((), dtype)
    if kind in ("and", "or", "xor"):
        return np.array(kind == "and", dtype) if dtype == np.bool_ else np.array(
            -1 if kind == "and" else 0).astype(dtype)
    if dtypes.is_inexact(dtype):
        return np.array(-np.inf if kind == "max" else np.inf, dtype)
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    if info is None:
        return np.array(kind == "min", dtype)
    return np.array(info.min if kind == "max" else info.max, dtype)


_HLO = {"sum": "stablehlo.add", "prod": "stablehlo.multiply", "max": "stablehlo.maximum",
        "min": "stablehlo.minimum", "and": "stablehlo.and", "or": "stablehlo.or",
        "xor": "stablehlo.xor"}


def _reduce_lowering(kind):
    def lower(ctx, x, *, axes):
        in_aval = ctx.in_avals[0]
        op = _HLO[kind]
        if in_aval.dtype == np.bool_ and kind in ("sum", "max"):
            op = "stablehlo.or"
        elif in_aval.dtype == np.bool_ and kind in ("prod", "min"):
            op = "stablehlo.and"
        scalar = ShapedArray((), in_aval.dtype)
        init = ctx.constant(_identity(kind, in_aval.dtype), scalar)
        region = ctx.scalar_reducer(in_aval.dtype, op)
        return ctx.op("stablehlo.reduce", [x, init], attrs=f"dimensions = {i64_array(axes)}",
                      regions=[region], operand_avals=[in_aval, scalar])
    return lower


def _reduce_batch(prim):
    def rule(axis, args, dims, *, axes):
        (x,), (d,) = args, dims
        new_axes = tuple(a + (a >= d) for a in axes)  # skip over the batch axis
        out_dim = d - sum(a < d for a in new_axes)
        return prim.bind(x, axes=new_axes), out_dim
    return rule


def _declare(kind) -> Primitive:
    prim = Primitive(f"reduce_{kind}")
    prim.def_abstract_eval(_reduce_aval)
    lowering_rules[prim] = _reduce_lowering(kind)
    batching_rules[prim] = _reduce_batch(prim)
    return prim


def _canonical_axes(x, axes):
    nd = core.get_aval(x).ndim
    if axes is None:
        return tuple(range(nd))
    if isinstance(axes, int):
        axes = (axes,)
    out = []
    for a in axes:
        if not -nd <= a < nd:
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {nd}")
        out.append(a % nd)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate axes in reduction: {tuple(axes)}")
    return tuple(sorted(out))


reduce_sum_p = _declare("sum")
deflinear(reduce_sum_p)


def _reduce_sum_transpose(ct, x, *, axes):
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return broadcast_in_dim(ct, shape, kept)


deftranspose_linear(reduce_sum_p, _reduce_sum_transpose)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    in_shape = x.aval.shape
    summed = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    expanded = [broadcast_dimensions[i] for i, n in enumerate(in_shape) if n == 1 and shape[
        broadcast_dimensions[i]] != 1]
    total = reduce_sum(ct, tuple(sorted(summed + expanded)))
    return reshape(total, in_shape)


# registered here, beside its dual: structural.py sits below the reductions
deftranspose_linear(broadcast_in_dim_p, _broadcast_in_dim_transpose)

reduce_max_p = _declare("max")
reduce_min_p = _declare("min")
reduce_prod_p = _declare("prod")
reduce_and_p = _declare("and")
reduce_or_p = _declare("or")
reduce_xor_p = _declare("xor")
defjvp_zero(reduce_and_p)
defjvp_zero(reduce_or_p)
defjvp_zero(reduce_xor_p)


def _reduce_xor_aval(x, *, axes):
    if not (dtypes.is_integer(x.dtype) or x.dtype == np.bool_):
        raise TypeError(f"reduce_xor needs an integer or boolean operand, got {x.dtype}")
    return _reduce_aval(x, axes=axes)


reduce_xor_p.def_abstract_eval(_reduce_xor_aval)


def _chooser_jvp(prim):
    """max/min: the tangent of the chosen elements, averaged over ties (as JAX does)."""
    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        if type(t) is Zero:
            return out, Zero(core.get_aval(out))
        shape = core.get_aval(x).shape
        kept = tuple(i for i in range(len(shape)) if i not in axes)
        chosen = ew.convert_element_type(ew.eq(x, broadcast_in_dim(out, shape, kept)),
                                         core.get_aval(t).dtype)
        count = reduce_sum_p.bind(chosen, axes=axes)
        return out, ew.div(reduce_sum_p.bind(ew.mul(t, chosen), axes=axes), count)
    jvp_rules[prim] = rule


_chooser_jvp(reduce_max_p)
_chooser_jvp(reduce_min_p)


# reduce_prod's JVP is registered in cumulative.py: it takes exclusive products (cumprod)


def reduce_sum(x, axes=None):
    return reduce_sum_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_max(x, axes=None):
    return reduce_max_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_min(x, axes=None):
    return reduce_min_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_prod(x, axes=None):
    return reduce_prod_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_and(x, axes=None):
    return reduce_and_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_or(x, axes=None):
    return reduce_or_p.bind(x, axes=_canonical_axes(x, axes))


def reduce_xor(x, axes=None):
    return reduce_xor_p.bind(x, axes=_canonical_axes(x, axes))
