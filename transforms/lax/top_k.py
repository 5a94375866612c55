"""top_k: the k largest values along an axis and their int32 indices, the `top_k` primitive
(JAX's, with its `axis`), and `best_along`, the sort both it and approx_top_k lower to.

Order: largest first, NaNs counted largest, equal values in index order (smallest first for
approx_min_k). The JVP carries the tangent through the same sort, so it follows the values."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.slicing import rev, slice_in_dim
from spmd.transforms.lax.sorting import sort
from spmd.transforms.lax.structural import broadcasted_iota, canonical_axis
from spmd.transforms.lowering import lowering_rules


def best_along(operand, *carried, k: int, axis: int, largest: bool = True):
    """[the k best values of `operand` along `axis`, their int32 indices, each of `carried`
    (arrays of its shape) taken at them]: one sort ascending by (value, tie-break index)."""
    aval = core.get_aval(operand)
    n = aval.shape[axis]
    index = broadcasted_iota(np.int32, aval.shape, axis)
    if largest:  # the largest come last; -index puts equal values in reverse index order there
        keyed = sort((operand, ew.neg(index), *carried), axis, True, num_keys=2)
        best = [rev(slice_in_dim(x, n - k, n, 1, axis), (axis,)) for x in keyed]
        best[1] = ew.neg(best[1])
        return best
    keyed = sort((operand, index, *carried), axis, True, num_keys=2)
    return [slice_in_dim(x, 0, k, 1, axis) for x in keyed]


def _top_k_aval(operand, *, k, axis):
    if dtypes.is_complex(operand.dtype):
        raise ValueError("top_k is not compatible with complex inputs: take the top k of their "
                         "absolute values or real parts")
    n = operand.shape[axis]
    if not 0 <= k <= n:
        where = "the last axis" if axis == operand.ndim - 1 else f"axis {axis}"
        raise ValueError(f"top_k: k={k} must be between 0 and the size of {where} ({n})")
    shape = operand.shape[:axis] + (k,) + operand.shape[axis + 1:]
    return [ShapedArray(shape, operand.dtype, operand.weak_type),
            ShapedArray(shape, np.dtype(np.int32))]


def _top_k_jvp(primals, tangents, *, k, axis):
    (operand,), (tangent,) = primals, tangents
    values, indices = top_k_p.bind(operand, k=k, axis=axis)
    if type(tangent) is Zero:
        tangent_out = Zero(core.get_aval(values))
    else:
        tangent_out = best_along(operand, tangent, k=k, axis=axis)[2]
    return [values, indices], [tangent_out, Zero(core.get_aval(indices))]


def _top_k_batch(axis_frame, args, dims, *, k, axis):
    (operand,), (bdim,) = args, dims
    return top_k_p.bind(operand, k=k, axis=axis + (bdim <= axis)), [bdim, bdim]


top_k_p = Primitive("top_k", multiple_results=True)
top_k_p.def_abstract_eval(_top_k_aval)
lowering_rules[top_k_p] = lower_fun(lambda x, *, k, axis: best_along(x, k=k, axis=axis),
                                    multiple_results=True)
jvp_rules[top_k_p] = _top_k_jvp
batching_rules[top_k_p] = _top_k_batch


def top_k(operand, k, *, axis=-1):
    """The k largest elements along `axis` (the last by default), largest first, and their
    int32 indices (lax.top_k): NaNs count as largest, and equal values come in index order."""
    aval = core.get_aval(operand)
    if aval.ndim == 0:
        raise ValueError("top_k needs an operand of rank >= 1, got a 0-d array")
    values, indices = top_k_p.bind(operand, k=int(k),
                                   axis=canonical_axis(axis, aval.ndim, "top_k"))
    return values, indices
