"""Choosing elements: where, select, clip, sort, argsort, and the data-dependent shapes
(nonzero, argwhere, flatnonzero, unique), which need concrete values or a static `size=`."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, broadcast_shapes, broadcast_to, canonicalize_axis,
                              check_array_like, promote_args, shape_of)
from spmd.numpy._shape import atleast_1d, ravel, stack
from spmd.transforms import dtypes, lax
from spmd.transforms.core import Tracer


def _bool(x):
    x = asarray_value(x)
    return x if x.dtype == np.bool_ else lax.ne(x, lax.full(shape_of(x), 0, x.dtype))


# ---------------------------------------------------------------- where / select / clip
def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """Elements of x where condition holds, else of y (broadcast together). With one argument,
    the indices of the non-zero elements (nonzero)."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("Either both or neither of the x and y arguments should be provided to "
                         "spmd.numpy.where, got 1")
    check_array_like("where", condition, x, y)
    x, y = promote_args("where", x, y)
    cond = _bool(condition)
    shape = broadcast_shapes(shape_of(cond), shape_of(x))
    return lax.select(broadcast_to(cond, shape), broadcast_to(x, shape), broadcast_to(y, shape))


def select(condlist, choicelist, default=0):
    """The first choice whose condition holds, elementwise (numpy.select)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist has {len(condlist)} entries and choicelist "
                         f"{len(choicelist)}; they must have the same length")
    if not condlist:
        raise ValueError("select: condlist must not be empty")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return out


def clip(arr=None, /, min=None, max=None, *, a=None, a_min=None, a_max=None):
    """Values limited to [min, max] (either may be None)."""
    x = arr if arr is not None else a
    if x is None:
        raise TypeError("clip needs an array to clip")
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    x = asarray_value(x)
    if lo is not None:
        x = uf.maximum(lo, x)
    if hi is not None:
        x = uf.minimum(hi, x)
    return x


# ---------------------------------------------------------------- sorting
def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    if order is not None:
        raise NotImplementedError("the 'order' argument to spmd.numpy.sort is not supported")
    x = asarray_value(a)
    if axis is None:
        x, axis = lax.reshape(x, (x.size,)), 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    out = lax.sort(x, ax, is_stable=stable)
    return lax.rev(out, (ax,)) if descending else out


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    if order is not None:
        raise NotImplementedError("the 'order' argument to spmd.numpy.argsort is not supported")
    x = asarray_value(a)
    if axis is None:
        x, axis = lax.reshape(x, (x.size,)), 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    index_dtype = dtypes.default_int()
    if not descending:
        return lax.argsort(x, ax, stable, index_dtype)
    # descending and stable: sort the reversed array ascending, reverse the result, and map
    # the positions back, so equal elements keep their original order
    n = shape_of(x)[ax]
    idx = lax.rev(lax.argsort(lax.rev(x, (ax,)), ax, stable, index_dtype), (ax,))
    return lax.sub(lax.full(shape_of(idx), n - 1, index_dtype), idx)


# ---------------------------------------------------------------- data-dependent shapes
def _size_error(name):
    return (f"{name} of a traced array needs a static size= argument: the number of results "
            "is not known while tracing (inside jit/vmap/grad)")


def _fill_tuple(fill_value, n):
    if fill_value is None:
        return (0,) * n
    if np.ndim(fill_value) == 0:
        return (fill_value,) * n
    fill = tuple(fill_value)
    if len(fill) != n:
        raise ValueError(f"fill_value must be a scalar or have one entry per dimension ({n}), "
                         f"got {fill_value!r}")
    return fill


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements, one array per dimension. A traced input needs `size`:
    the first `size` indices are returned, padded with fill_value (default 0)."""
    check_array_like("nonzero", a)
    nd = np.ndim(a) if not isinstance(a, Tracer) else a.ndim
    if nd == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "spmd.numpy.atleast_1d(scalar).nonzero() instead.")
    index_dtype = dtypes.default_int()
    if not isinstance(a, Tracer):
        found = np.nonzero(np.asarray(a))
        if size is not None:
            fill = _fill_tuple(fill_value, nd)
            found = tuple(np.concatenate([f[:size], np.full(max(size - len(f), 0), v)])
                          for f, v in zip(found, fill))
        return tuple(asarray_value(f.astype(index_dtype)) for f in found)
    if size is None:
        a.to_concrete(_size_error("nonzero"))
    return _traced_nonzero(a, int(size), _fill_tuple(fill_value, nd), index_dtype)


def _compact(mask, values, size, fill, dtype):
    """The entries of `values` where `mask` holds (1-D, in order), the first `size` of them,
    padded with `fill`: each kept entry is scattered to its rank among the kept ones."""
    n = shape_of(mask)[0]
    rank = lax.sub(lax.cumsum(lax.convert_element_type(mask, np.int32)),
                   lax.full((n,), 1, np.int32))
    target = lax.select(mask, rank, lax.full((n,), size, np.int32))  # `size` is dropped
    dnums = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                        scatter_dims_to_operand_dims=(0,))
    out = lax.full((size,), fill, dtype)
    return lax.scatter(out, lax.reshape(target, (n, 1)), values, dnums)


def _traced_nonzero(a, size, fill, index_dtype):
    shape = shape_of(a)
    flat = lax.reshape(_bool(a), (int(np.prod(shape, dtype=np.int64)),))
    n = shape_of(flat)[0]
    positions = _compact(flat, lax.iota(index_dtype, n), size, -1, index_dtype)
    valid = lax.ge(positions, lax.full((size,), 0, index_dtype))
    out = []
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    for d, (extent, step) in enumerate(zip(shape, strides)):  # unravel the flat positions
        coord = lax.rem(lax.div(positions, lax.full((size,), step, index_dtype)),
                        lax.full((size,), extent, index_dtype))
        out.append(lax.select(valid, coord, lax.full((size,), fill[d], index_dtype)))
    return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
    return nonzero(ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements, one row per element."""
    check_array_like("argwhere", a)
    result = stack(nonzero(atleast_1d(a), size=size, fill_value=fill_value), axis=1)
    if (a.ndim if isinstance(a, Tracer) else np.ndim(a)) == 0:
        return lax.reshape(lax.slice_in_dim(result, 0, 0, 1, 1), (shape_of(result)[0], 0))
    return result


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None):
    """The sorted distinct values (numpy.unique). Concrete inputs only, except the plain values
    of a traced array with a static `size` (padded with fill_value, default the smallest)."""
    check_array_like("unique", ar)
    if isinstance(ar, Tracer):
        if size is None or return_index or return_inverse or return_counts or axis is not None:
            ar.to_concrete("unique of a traced array (only the values, flattened, with a static "
                           "size= are supported under jit/vmap/grad)")
        return _traced_unique(ar, int(size), fill_value)
    host = np.asarray(ar)
    results = np.unique(host, return_index, return_inverse, return_counts, axis=axis,
                        equal_nan=equal_nan)
    results = results if isinstance(results, tuple) else (results,)
    values, extras = results[0], list(results[1:])
    if size is not None:
        fill = values.min() if fill_value is None and values.size else (fill_value or 0)
        values = _pad_to(values, size, fill, axis)
    out = [asarray_value(values.astype(host.dtype))]
    for r in extras:
        out.append(asarray_value(r.astype(dtypes.default_int())))
    return out[0] if len(out) == 1 else tuple(out)


def _pad_to(values, size, fill, axis):
    ax = 0 if axis is None else axis
    n = values.shape[ax]
    if n >= size:
        return np.take(values, np.arange(size), axis=ax)
    pad_shape = list(values.shape)
    pad_shape[ax] = size - n
    return np.concatenate([values, np.full(pad_shape, fill, values.dtype)], axis=ax)


def _traced_unique(ar, size, fill_value):
    x = lax.sort(ravel(ar), 0)
    n = shape_of(x)[0]
    if n == 0:
        return lax.full((size,), 0 if fill_value is None else fill_value, x.dtype)
    prev = lax.slice_in_dim(x, 0, n - 1, 1, 0)
    changed = lax.ne(lax.slice_in_dim(x, 1, n, 1, 0), prev)
    first = lax.concatenate([lax.full((1,), True, np.bool_), changed], 0)
    fill = lax.index_in_dim(x, 0, 0, keepdims=False) if fill_value is None else fill_value
    fill = lax.broadcast_in_dim(lax.convert_element_type(fill, x.dtype), (size,), ())
    compacted = _compact(first, x, size, 0, x.dtype)
    count = lax.reduce_sum(lax.convert_element_type(first, np.int32))
    keep = lax.lt(lax.iota(np.int32, size), lax.broadcast_in_dim(count, (size,), ()))
    return lax.select(keep, compacted, fill)
