"""More of jax.numpy's array manipulation: unstack, block, dsplit, delete, insert, resize,
rollaxis, trim_zeros, ediff1d, apply_along_axis, apply_over_axes, choose, compress, extract,
and JAX's out-of-place forms of NumPy's in-place functions (put, place, fill_diagonal,
put_along_axis: `inplace=False`)."""
from __future__ import annotations

import builtins
import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy._core import asarray_value, canonicalize_axis, promote_args, shape_of, stack
from spmd.numpy._indexing import take, take_along_axis
from spmd.numpy._selection import nonzero
from spmd.numpy._ufuncs import maximum, minimum, remainder
from spmd.transforms import core, lax
from spmd.transforms.api import vmap


def unstack(x, /, *, axis: int = 0):
    """The slices of `x` along `axis`, as a tuple (the inverse of stack)."""
    x = asarray_value(x)
    shape = shape_of(x)
    if not shape:
        raise ValueError("unstack requires an array of at least one dimension, got a 0-d array")
    ax = canonicalize_axis(axis, len(shape))
    return tuple(lax.index_in_dim(x, i, ax, keepdims=False) for i in range(shape[ax]))


def _block_depth(arrays):
    if isinstance(arrays, list):
        if not arrays:
            raise ValueError("block: lists cannot be empty")
        depths = {_block_depth(a) for a in arrays}
        if len(depths) != 1:
            raise ValueError("block: list depths are mismatched; every list in the nesting must "
                             "be equally deep")
        return 1 + depths.pop()
    if isinstance(arrays, tuple):
        raise TypeError("block: arrays must be nested lists, not tuples")
    return 0


def block(arrays):
    """An array assembled from nested lists of blocks (numpy.block): the innermost lists join
    along the last axis, the next ones along the second-to-last, and so on."""
    depth = _block_depth(arrays)

    def assemble(item, level):
        if level == depth:
            return asarray_value(item)
        parts = [assemble(a, level + 1) for a in item]
        rank = builtins.max(depth, *(len(shape_of(p)) for p in parts))
        parts = [lax.reshape(p, (1,) * (rank - len(shape_of(p))) + shape_of(p)) for p in parts]
        return sh.concatenate(parts, axis=level - depth)
    return assemble(arrays, 0)


def dsplit(ary, indices_or_sections):
    if len(shape_of(asarray_value(ary))) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return sh.split(ary, indices_or_sections, 2)


def _static_indices(name, obj, size):
    if isinstance(obj, slice):
        return np.arange(size)[obj]
    try:
        values = np.asarray(obj)
        return values if values.dtype == np.bool_ else values.astype(np.int64)
    except TypeError:
        raise TypeError(f"{name}: the indices must be static (Python or NumPy values), not a "
                        "traced array") from None


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """arr without the entries `obj` (indices, a slice or a boolean mask) along `axis`
    (flattened when None). The indices must be static."""
    x = asarray_value(arr)
    if axis is None:
        x, axis = sh.ravel(x), 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    n = shape_of(x)[ax]
    idx = _static_indices("delete", obj, n)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise ValueError(f"delete: boolean mask of shape {idx.shape} does not match axis "
                             f"{ax} of length {n}")
        idx = np.flatnonzero(idx)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"delete: index out of bounds for axis {ax} with size {n}")
    keep = np.setdiff1d(np.arange(n), idx % n if idx.size else idx)
    return take(x, keep, axis=ax) if keep.size != n else x


def insert(arr, obj, values, axis=None):
    """arr with `values` inserted before the indices `obj` along `axis` (flattened when None).
    The indices must be static."""
    x = asarray_value(arr)
    if axis is None:
        x, axis = sh.ravel(x), 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    n = shape_of(x)[ax]
    idx = _static_indices("insert", obj, n + 1)
    if idx.size and (idx.min() < -n or idx.max() > n):
        raise IndexError(f"insert: index out of bounds for axis {ax} with size {n}")
    idx = np.where(idx < 0, idx + n, idx)
    v = lax.convert_element_type(asarray_value(values), core.get_aval(x).dtype)
    slot_shape = list(shape_of(x))
    if idx.ndim == 0:  # one position: NumPy reads the values' first axis as `axis`
        v = sh.moveaxis(lax.reshape(v, (1,) * (len(slot_shape) - len(shape_of(v)))
                                    + shape_of(v)), 0, ax)
        idx = np.repeat(idx, shape_of(v)[ax])
    slot_shape[ax] = idx.size
    v = sh.broadcast_to(v, tuple(slot_shape))
    # output slot k takes entry order[k] of concatenate([x, values]): a value goes before x's
    # entry at its index, values at one index keep their order
    order = np.argsort(np.concatenate([np.arange(n) * 2 + 1, idx * 2]), kind="stable")
    return take(sh.concatenate([x, v], axis=ax), order, axis=ax)


def resize(a, new_shape):
    """An array of new_shape filled with a's elements, repeated as often as needed."""
    x = sh.ravel(asarray_value(a))
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    if builtins.any(d < 0 for d in new_shape):
        raise ValueError(f"resize: all elements of new_shape must be non-negative, got "
                         f"{new_shape}")
    total = int(np.prod(new_shape, dtype=np.int64))
    size = shape_of(x)[0]
    if total and not size:
        return lax.full(new_shape, 0, core.get_aval(x).dtype)
    reps = -(-total // size) if size else 0
    return sh.reshape(sh.tile(x, reps)[:total], new_shape)


def rollaxis(a, axis, start=0):
    """numpy.rollaxis: move `axis` to before position `start`."""
    x = asarray_value(a)
    nd = len(shape_of(x))
    ax = canonicalize_axis(axis, nd)
    start = operator.index(start)
    if not -nd <= start <= nd:
        raise ValueError(f"rollaxis: start {start} is out of bounds for an array of dimension "
                         f"{nd}")
    start = start + nd if start < 0 else start
    if ax < start:
        start -= 1
    return sh.moveaxis(x, ax, start)


def trim_zeros(filt, trim="fb"):
    """filt without its leading ('f') and/or trailing ('b') zeros; the values must be concrete
    (the length of the result depends on them)."""
    x = asarray_value(filt)
    if len(shape_of(x)) != 1:
        raise ValueError(f"trim_zeros needs a 1-D array, got shape {shape_of(x)}")
    found = np.flatnonzero(np.asarray(x))
    trim = trim.lower()
    if not found.size:
        return x[:0] if ("f" in trim or "b" in trim) else x
    first = found[0] if "f" in trim else 0
    last = found[-1] + 1 if "b" in trim else shape_of(x)[0]
    return x[first:last]


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences between consecutive elements of the flattened array, with optional values
    before and after."""
    flat = sh.ravel(asarray_value(ary))
    parts = [sh.diff(flat)]
    if to_begin is not None:
        parts.insert(0, sh.ravel(asarray_value(to_begin)))
    if to_end is not None:
        parts.append(sh.ravel(asarray_value(to_end)))
    return sh.concatenate(parts) if len(parts) > 1 else parts[0]


def apply_along_axis(func1d, axis: int, arr, *args, **kwargs):
    """func1d applied to every 1-D slice along `axis` (by vmap over the other axes); the slice
    axis is replaced by func1d's output axes."""
    x = asarray_value(arr)
    nd = len(shape_of(x))
    ax = canonicalize_axis(axis, nd)

    def fn(v):
        return func1d(v, *args, **kwargs)
    for _ in range(ax + 1, nd):  # the axes after `axis` map from the end...
        fn = vmap(fn, in_axes=-1, out_axes=-1)
    for _ in range(ax):  # ...and those before it from the front
        fn = vmap(fn, in_axes=0, out_axes=0)
    return fn(x)


def apply_over_axes(func, a, axes):
    """func(a, axis) applied axis by axis; each result keeps a's rank (a reduced axis stays as
    size 1)."""
    x = asarray_value(a)
    for axis in ([axes] if isinstance(axes, (int, np.integer)) else axes):
        out = asarray_value(func(x, axis))
        if len(shape_of(out)) == len(shape_of(x)) - 1:
            out = sh.expand_dims(out, axis)
        elif len(shape_of(out)) != len(shape_of(x)):
            raise ValueError("apply_over_axes: function is not returning an array of the "
                             "correct shape")
        x = out
    return x


def choose(a, choices, out=None, mode="raise"):
    """choices[a[i]][i] for every i (indices and choices broadcast together). As in JAX,
    mode='raise' is not available on traced indices: use 'wrap' or 'clip'."""
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.choose is not supported")
    idx = asarray_value(a)
    choices = promote_args("choose", *choices)
    n = len(choices)
    if mode == "raise":
        if not isinstance(idx, core.Tracer):
            values = np.asarray(idx)
            if values.size and (values.min() < 0 or values.max() >= n):
                raise ValueError(f"choose: invalid entry in choice array (indices must be in "
                                 f"[0, {n}))")
    elif mode == "wrap":
        idx = _wrap(idx, n)
    elif mode == "clip":
        idx = _clip(idx, n)
    else:
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    shape = sh.broadcast_shapes(shape_of(idx), shape_of(choices[0]))
    stacked = stack([sh.broadcast_to(c, shape) for c in choices])
    idx = sh.broadcast_to(idx, shape)
    return take_along_axis(stacked, sh.expand_dims(idx, 0), axis=0)[0]


def _wrap(idx, n):
    return remainder(idx, n)


def _clip(idx, n):
    return minimum(maximum(idx, 0), n - 1)


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """The slices of `a` along `axis` where `condition` is true (a concrete condition, or a
    traced one with a static `size`)."""
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.compress is not supported")
    x = asarray_value(a)
    if axis is None:
        x, axis = sh.ravel(x), 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    n = shape_of(x)[ax]
    # a condition given as values (not traced) selects statically: no size needed
    cond = (sh.ravel(condition) if isinstance(condition, core.Tracer)
            else np.ravel(np.asarray(condition)))
    if shape_of(cond)[0] > n:
        raise ValueError(f"compress: condition of length {shape_of(cond)[0]} is longer than "
                         f"axis {ax} of length {n}")
    if isinstance(cond, np.ndarray) and size is None:
        return take(x, np.flatnonzero(cond), axis=ax)
    (idx,) = nonzero(cond, size=size, fill_value=n if size is not None else None)
    return take(x, idx, axis=ax, mode="fill", fill_value=fill_value)


def extract(condition, arr, *, size=None, fill_value=0):
    """The elements of `arr` where `condition` holds (both flattened)."""
    cond = sh.ravel(condition) if isinstance(condition, core.Tracer) else np.ravel(condition)
    return compress(cond, sh.ravel(asarray_value(arr)), size=size, fill_value=fill_value)


def _no_inplace(name, inplace):
    if inplace:
        raise ValueError(f"spmd.numpy.{name} cannot modify an array in place (spmd arrays are "
                         f"immutable); pass inplace=False to get the updated copy, or use "
                         f"x.at[...].set(...)")


def put(a, ind, v, mode=None, *, inplace=True):
    """A copy of `a` with the flat entries `ind` set to `v` (repeated as needed); JAX's form,
    inplace=False. Out-of-range indices are dropped (mode None), wrapped or clipped."""
    _no_inplace("put", inplace)
    x = asarray_value(a)
    flat = sh.ravel(x)
    ind = sh.ravel(asarray_value(ind))
    n = shape_of(flat)[0]
    if mode == "wrap":
        ind = _wrap(ind, n)
    elif mode == "clip":
        ind = _clip(ind, n)
    elif mode is not None:
        raise ValueError(f"put: mode must be None, 'wrap' or 'clip', got {mode!r}")
    values = resize(sh.ravel(asarray_value(v)), shape_of(ind))
    return sh.reshape(flat.at[ind].set(values, mode="drop"), shape_of(x))


def place(arr, mask, vals, *, inplace=True):
    """A copy of `arr` whose entries where `mask` holds take `vals` in order, repeated as
    needed (concrete mask; JAX's form: inplace=False)."""
    _no_inplace("place", inplace)
    x = asarray_value(arr)
    positions = np.flatnonzero(np.asarray(mask))
    if not positions.size:
        return x
    values = resize(sh.ravel(asarray_value(vals)), positions.size)
    return sh.reshape(sh.ravel(x).at[positions].set(values), shape_of(x))


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """A copy of `a` with its main diagonal set to `val` (repeated as needed); JAX's form,
    inplace=False. A tall 2-D array's diagonal restarts after each square block with wrap."""
    _no_inplace("fill_diagonal", inplace)
    x = asarray_value(a)
    shape = shape_of(x)
    if len(shape) < 2:
        raise ValueError("fill_diagonal: array must be at least 2-d")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise ValueError("fill_diagonal: all dimensions of input must be of equal length")
    if len(shape) == 2:
        rows, cols = shape
        end = rows * cols if wrap else builtins.min(rows, cols) * cols
        flat_idx = np.arange(0, end, cols + 1)
    else:  # the step between (i, i, ..., i) and (i+1, ..., i+1) in the flat array
        flat_idx = np.arange(shape[0]) * int(np.sum(np.cumprod((1,) + shape[:0:-1])))
    values = resize(sh.ravel(asarray_value(val)), flat_idx.size)
    values = lax.convert_element_type(values, core.get_aval(x).dtype)
    return sh.reshape(sh.ravel(x).at[flat_idx].set(values), shape)


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """A copy of `arr` with arr[..., indices, ...] (along `axis`) set to `values` (JAX's form:
    inplace=False)."""
    _no_inplace("put_along_axis", inplace)
    x = asarray_value(arr)
    nd = len(shape_of(x))
    ax = canonicalize_axis(axis, nd)
    idx = asarray_value(indices)
    if len(shape_of(idx)) != nd:
        raise ValueError(f"put_along_axis: indices must have the same number of dimensions as "
                         f"arr ({nd}), got shape {shape_of(idx)}")
    full_idx = []
    for d in range(nd):
        if d == ax:
            full_idx.append(idx)
        else:
            shape = [1] * nd
            shape[d] = shape_of(x)[d]
            full_idx.append(lax.broadcasted_iota(np.int32, tuple(shape), d))
    return x.at[tuple(full_idx)].set(values, mode=mode)
