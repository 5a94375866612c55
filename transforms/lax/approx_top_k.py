"""approx_max_k / approx_min_k: the k largest (smallest) values along one dimension and their
int32 indices, the `approx_top_k` primitive.

The approximate algorithm is TPU-only; on CPU and GPU JAX lowers to XLA's exact fallback, a
sort and a slice, and so does spmd: the results are the exact top k, ordered best first, equal
values in index order, NaNs counted largest (lax.top_k's order). With `aggregate_to_topk=False`
the output keeps as many candidates as XLA's ApproxTopK would (its reduction output size, >= k),
still sorted. The JVP carries the tangent through the same sort, so it follows the values."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.top_k import best_along
from spmd.transforms.lowering import lowering_rules


def _output_size(operand, k, reduction_dimension, recall_target, reduction_input_size_override,
                 aggregate_to_topk):
    size = operand.shape[reduction_dimension]
    if aggregate_to_topk:
        return k
    return backend.approx_top_k_reduction_output_size(
        size, operand.ndim, k, recall_target, False, reduction_input_size_override)


def _approx_top_k_aval(operand, *, k, reduction_dimension, recall_target, is_max_k,
                       reduction_input_size_override, aggregate_to_topk):
    if k <= 0:
        raise ValueError(f"approx_max_k/approx_min_k: k must be positive, got {k}")
    if operand.ndim == 0:
        raise TypeError("approx_max_k/approx_min_k: the operand must have rank >= 1, got a 0-d "
                        "array")
    if not -operand.ndim <= reduction_dimension < operand.ndim:
        raise ValueError(f"approx_max_k/approx_min_k: reduction_dimension {reduction_dimension} "
                         f"is out of range for an operand of rank {operand.ndim}")
    if operand.shape[reduction_dimension] < k:
        raise ValueError(f"approx_max_k/approx_min_k: k={k} is larger than the reduction "
                         f"dimension (size {operand.shape[reduction_dimension]})")
    if not dtypes.is_float(operand.dtype):
        raise ValueError(f"approx_max_k/approx_min_k: the operand must have a floating dtype, "
                         f"got {operand.dtype}")
    shape = list(operand.shape)
    shape[reduction_dimension] = _output_size(operand, k, reduction_dimension, recall_target,
                                              reduction_input_size_override, aggregate_to_topk)
    return [ShapedArray(tuple(shape), operand.dtype, operand.weak_type),
            ShapedArray(tuple(shape), np.dtype(np.int32))]


def _best_first(operand, *carried, k, reduction_dimension, recall_target, is_max_k,
                reduction_input_size_override, aggregate_to_topk):
    aval = core.get_aval(operand)
    dim = reduction_dimension % aval.ndim
    out = _output_size(aval, k, dim, recall_target, reduction_input_size_override,
                       aggregate_to_topk)
    return best_along(operand, *carried, k=out, axis=dim, largest=is_max_k)


def _approx_top_k_jvp(primals, tangents, **params):
    (operand,), (tangent,) = primals, tangents
    values, indices = approx_top_k_p.bind(operand, **params)
    if type(tangent) is Zero:
        tangent_out = Zero(core.get_aval(values))
    else:
        tangent_out = _best_first(operand, tangent, **params)[2]
    return [values, indices], [tangent_out, Zero(core.get_aval(indices))]


def _approx_top_k_batch(axis, args, dims, *, reduction_dimension, **params):
    (operand,), (bdim,) = args, dims
    ndim = core.get_aval(operand).ndim - 1
    kept = [d for d in range(ndim + 1) if d != bdim]
    outs = approx_top_k_p.bind(operand, reduction_dimension=kept[reduction_dimension % ndim],
                               **params)
    return outs, [bdim, bdim]


approx_top_k_p = Primitive("approx_top_k", multiple_results=True)
approx_top_k_p.def_abstract_eval(_approx_top_k_aval)
lowering_rules[approx_top_k_p] = lower_fun(lambda x, **p: _best_first(x, **p),
                                           multiple_results=True)
jvp_rules[approx_top_k_p] = _approx_top_k_jvp
batching_rules[approx_top_k_p] = _approx_top_k_batch


def _approx_top_k(operand, k, reduction_dimension, recall_target, is_max_k,
                  reduction_input_size_override, aggregate_to_topk):
    values, indices = approx_top_k_p.bind(
        operand, k=int(k), reduction_dimension=int(reduction_dimension),
        recall_target=float(recall_target), is_max_k=is_max_k,
        reduction_input_size_override=int(reduction_input_size_override),
        aggregate_to_topk=bool(aggregate_to_topk))
    return values, indices


def approx_max_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True):
    """The k largest values of a float array along `reduction_dimension` and their int32
    indices, largest first (exact on CPU; see the module docstring)."""
    return _approx_top_k(operand, k, reduction_dimension, recall_target, True,
                         reduction_input_size_override, aggregate_to_topk)


def approx_min_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True):
    """The k smallest values of a float array along `reduction_dimension` and their int32
    indices, smallest first (exact on CPU; see the module docstring)."""
    return _approx_top_k(operand, k, reduction_dimension, recall_target, False,
                         reduction_input_size_override, aggregate_to_topk)
