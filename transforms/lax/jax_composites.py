"""jax.lax functions that JAX builds from other operations, and spmd builds from the primitives
it has: each is the same function with JAX's signature, and grad, vmap and jit follow from its
parts."""
from __future__ import annotations

import builtins
import enum
import operator
from typing import Sequence

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.dot import dot_general
from spmd.transforms.lax.gather_scatter import GatherDimensionNumbers, gather
from spmd.transforms.lax.sharding_constraint import with_sharding_constraint
from spmd.transforms.lax.slicing import concatenate
from spmd.transforms.lax.structural import (broadcast, broadcast_in_dim, canonical_axis,
                                            expand_dims, reshape)


def _aval(x):
    return core.get_aval(x)


def _asarray(x):
    """A Python or NumPy value as a (weakly typed where Python's) array of this runtime."""
    if hasattr(x, "aval") or isinstance(x, core.Tracer):
        return x
    return ew.convert_element_type(x, _aval(x).dtype, _aval(x).weak_type)


def broadcast_to_rank(x, rank: int):
    """jax.lax.broadcast_to_rank: `x` with leading dimensions of size 1 up to rank `rank`."""
    ndim = np.ndim(x)
    if ndim == rank:
        return _asarray(x)
    if rank < ndim:
        raise ValueError(f"broadcast_to_rank: rank {rank} is less than the rank {ndim} of x")
    return broadcast(x, (1,) * (rank - ndim))


def broadcast_shapes(*shapes) -> tuple:
    """jax.lax.broadcast_shapes: the shape NumPy broadcasting gives the `shapes`."""
    if not shapes:
        raise TypeError("broadcast_shapes: At least one shape is required.")
    shapes = [tuple(operator.index(d) for d in s) for s in shapes]
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + s for s in shapes]
    out = []
    for sizes in zip(*padded):
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            raise ValueError(f"Incompatible shapes for broadcasting: shapes={shapes}")
        out.append(big.pop() if big else 1)
    return tuple(out)


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """jax.lax.collapse: dimensions [start, stop) merged into one."""
    shape = _aval(operand).shape
    lo, hi, _ = builtins.slice(start_dimension, stop_dimension).indices(len(shape))
    if hi < lo:
        raise ValueError(f"collapse: stop_dimension {stop_dimension} comes before "
                         f"start_dimension {start_dimension} in a shape of rank {len(shape)}")
    return reshape(operand, shape[:lo] + (int(np.prod(shape[lo:hi], dtype=int)),) + shape[hi:])


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """jax.lax.full_like: an array like `x` (its shape and dtype, unless given) of `fill_value`.
    A weakly typed `x` gives a weakly typed result, as in JAX."""
    aval = _aval(x)
    weak = dtype is None and aval.weak_type
    out = ew.full(aval.shape if shape is None else tuple(shape), fill_value,
                  aval.dtype if dtype is None else dtypes.canonicalize(dtype), weak)
    if weak:  # full writes a concrete fill value as a strongly typed literal
        out = ew.convert_element_type(out, aval.dtype, True)
    if sharding is not None:
        out = with_sharding_constraint(out, sharding)
    return out


def index_take(src, idxs: Sequence, axes: Sequence[int]):
    """jax.lax.index_take: src[idxs[0], idxs[1], ...] with index arrays on `axes` (negative
    indices count from the end), the indexed axes replaced by one leading axis."""
    shape = _aval(src).shape
    axes = tuple(canonical_axis(a, len(shape), "index_take") for a in axes)
    if len(idxs) != len(axes):
        raise ValueError(f"index_take: {len(idxs)} index arrays for {len(axes)} axes")
    if not idxs:
        raise ValueError("index_take needs at least one index array")
    columns = [expand_dims(_asarray(i), (1,)) for i in idxs]
    index_dtype = _aval(columns[0]).dtype
    indices = concatenate([ew.convert_element_type(c, index_dtype) for c in columns], 1)
    bounds = broadcast(ew.convert_element_type(np.array([shape[a] for a in axes]), index_dtype),
                       (_aval(indices).shape[0],))
    indices = ew.rem(ew.add(ew.rem(indices, bounds), bounds), bounds)  # -1 -> size - 1
    slice_sizes = tuple(1 if d in axes else n for d, n in enumerate(shape))
    dnums = GatherDimensionNumbers(offset_dims=tuple(range(1, len(shape) - len(axes) + 1)),
                                   collapsed_slice_dims=axes, start_index_map=axes)
    return gather(src, indices, dnums, slice_sizes)


class RoundingMethod(enum.IntEnum):
    """How jax.lax.round treats halfway values."""
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001 (lax.round)
    """jax.lax.round: halfway values away from zero (JAX's default) or to the even neighbour."""
    method = RoundingMethod(rounding_method)
    if method is RoundingMethod.AWAY_FROM_ZERO:
        return ew.round_afz(x)
    return ew.round(x)


def dtype(x):
    """jax.lax.dtype: the dtype of an array (as it is), or of a Python or NumPy scalar, type,
    dtype name or NumPy array (canonicalized: float64 is float32 unless x64 is on)."""
    if x is None:
        raise ValueError("Invalid argument to dtype: None.")
    if hasattr(x, "aval") or isinstance(x, core.Tracer):
        return np.dtype(_aval(x).dtype)
    if isinstance(x, type) and x in (bool, int, float, complex):
        return np.dtype(_aval(x(0)).dtype)
    if isinstance(x, (bool, int, float, complex)):
        return np.dtype(_aval(x).dtype)
    try:
        found = np.dtype(x) if isinstance(x, (type, np.dtype, str)) else np.asarray(x).dtype
    except TypeError:
        raise TypeError(f"Cannot determine the dtype of {x!r}") from None
    return np.dtype(dtypes.canonicalize(found))


def batch_matmul(lhs, rhs, precision=None):
    """jax.lax.batch_matmul: matrix products over the leading (batch) dimensions of two arrays
    of one rank >= 2."""
    ndim, rhs_ndim = _aval(lhs).ndim, _aval(rhs).ndim
    if builtins.min(ndim, rhs_ndim) < 2:
        raise ValueError(f"Arguments to batch_matmul must be at least 2D, got {ndim}, "
                         f"{rhs_ndim}")
    if ndim != rhs_ndim:
        raise ValueError(f"Arguments to batch_matmul must have same ndim, got {ndim}, "
                         f"{rhs_ndim}")
    batch = tuple(range(ndim - 2))
    return dot_general(lhs, rhs, (((ndim - 1,), (ndim - 2,)), (batch, batch)), precision)


def broadcast_like(arr, like_arr):
    """jax.lax.broadcast_like: `arr` broadcast (NumPy's rules) to the shape of `like_arr`."""
    arr = _asarray(arr)
    shape, target = _aval(arr).shape, tuple(_aval(like_arr).shape)
    if len(shape) > len(target) or any(s not in (1, t) for s, t in
                                       zip(shape[::-1], target[::-1])):
        raise ValueError(f"broadcast_like: cannot broadcast an array of shape {shape} to the "
                         f"shape {target}")
    lead = len(target) - len(shape)
    kept = [d for d, s in enumerate(shape) if s == target[lead + d]]
    squeezed = reshape(arr, [shape[d] for d in kept]) if len(kept) < len(shape) else arr
    return broadcast_in_dim(squeezed, target, [lead + d for d in kept])


def shape_as_value(shape):
    """jax.lax.shape_as_value: a static shape as a 1-D NumPy array, as JAX returns it (int32,
    or int64 where a size needs it)."""
    shape = tuple(int(d) for d in shape)
    wide = builtins.any(d > np.iinfo(np.int32).max for d in shape)
    return np.asarray(shape, np.int64 if wide else np.int32)


def empty(shape, dtype, *, out_sharding=None):
    """jax.lax.empty: an array whose values the program must not read (XLA's CPU gives zeros,
    and so does spmd)."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    out = ew.full(shape, 0, dtypes.canonicalize(dtype))
    return out if out_sharding is None else with_sharding_constraint(out, out_sharding)
