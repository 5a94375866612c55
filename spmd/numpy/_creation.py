"""Array creation: array, asarray, zeros, ones, full, arange, linspace, eye and the *_like."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, broadcast_to, check_array_like, promote_to_inexact,
                              stack)
from spmd.numpy._indexing import IndexUpdateHelper
from spmd.numpy._shape import moveaxis
from spmd.transforms import core, dtypes, lax
from spmd.transforms.array import make_array


def _dtype_or_default(dtype, default):
    return dtypes.canonicalize(default if dtype is None else dtype)


def asarray(a, dtype=None, order=None, copy=None):
    """An spmd array from any array-like; device arrays and traced values pass through."""
    return asarray_value(a, dtype)


def array(object, dtype=None, copy=True, order="K", ndmin=0):
    out = asarray_value(object, dtype)
    nd = core.get_aval(out).ndim
    if ndmin > nd:
        out = lax.reshape(out, (1,) * (ndmin - nd) + core.get_aval(out).shape)
    return out


def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(operator_index(d)) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None


def operator_index(d):
    import operator
    return operator.index(d)


def full(shape, fill_value, dtype=None):
    shape = _shape_tuple(shape)
    if dtype is None:
        dtype = core.get_aval(fill_value).dtype
    fill = asarray_value(fill_value, dtype)
    if core.get_aval(fill).ndim:
        return broadcast_to(fill, shape)
    return lax.full(shape, fill, dtypes.canonicalize(dtype))


def zeros(shape, dtype=None):
    return lax.full(_shape_tuple(shape), 0, _dtype_or_default(dtype, dtypes.float64))


def ones(shape, dtype=None):
    return lax.full(_shape_tuple(shape), 1, _dtype_or_default(dtype, dtypes.float64))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def _like(a, dtype, shape):
    aval = core.get_aval(a)
    return (aval.shape if shape is None else _shape_tuple(shape),
            aval.dtype if dtype is None else dtypes.canonicalize(dtype))


def zeros_like(a, dtype=None, shape=None):
    shape, dtype = _like(a, dtype, shape)
    return lax.full(shape, 0, dtype)


def ones_like(a, dtype=None, shape=None):
    shape, dtype = _like(a, dtype, shape)
    return lax.full(shape, 1, dtype)


def empty_like(a, dtype=None, shape=None):
    return zeros_like(a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    shape, dtype = _like(a, dtype, shape)
    return full(shape, fill_value, dtype)


def arange(start, stop=None, step=None, dtype=None):
    """Like numpy.arange; the bounds must be concrete (they fix the shape)."""
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(v, core.Tracer):
            v.to_concrete(f"arange's {name} (it fixes the output shape)")
    host = np.arange(start, stop, step) if dtype is None else np.arange(
        start, stop, step, dtype=dtypes.canonicalize(dtype))
    if dtype is None and np.issubdtype(host.dtype, np.integer):
        host = host.astype(dtypes.default_int())
    elif dtype is None:
        host = host.astype(dtypes.default_float())
    size = host.shape[0]
    if size == 0:
        return make_array(host)
    out_dtype = dtypes.canonicalize(host.dtype)
    if step is None and (stop is None or start == 0) and np.issubdtype(out_dtype, np.integer):
        return lax.iota(out_dtype, size)
    return make_array(host.astype(out_dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    start, stop = promote_to_inexact("linspace", start, stop)
    out_dtype = dtypes.canonicalize(dtype) if dtype is not None else core.get_aval(start).dtype
    div = (num - 1) if endpoint else num
    steps = lax.convert_element_type(lax.iota(dtypes.default_int(), num),
                                     core.get_aval(start).dtype) \
        if num else lax.full((0,), 0, core.get_aval(start).dtype)
    shape = core.get_aval(start).shape
    delta = uf.subtract(stop, start)
    step = uf.divide(delta, div) if div > 0 else uf.multiply(delta, np.nan)
    grid = lax.reshape(steps, (num,) + (1,) * len(shape))
    out = uf.add(start, uf.multiply(grid, step)) if div > 0 else uf.add(
        start, uf.multiply(grid, delta))
    if endpoint and num > 1:
        out = IndexUpdateHelper(out)[-1].set(stop)
    if axis != 0:
        out = moveaxis(out, 0, axis)
    out = lax.convert_element_type(out, out_dtype) if core.get_aval(out).dtype != out_dtype else out
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    dtype = _dtype_or_default(dtype, dtypes.float64)
    rows = lax.broadcasted_iota(dtypes.default_int(), (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.default_int(), (N, M), 1)
    return lax.convert_element_type(uf.equal(uf.add(rows, k), cols), dtype)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def astype(x, dtype, /, *, copy=False, device=None):
    """x converted to dtype (complex to real keeps the real part, as JAX does)."""
    check_array_like("astype", x)
    return lax.convert_element_type(asarray_value(x), dtypes.canonicalize(dtype))


def copy(a, order=None):
    return asarray_value(a)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors; 'xy' swaps the first two output axes."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    vecs = [asarray_value(x) for x in xi]
    for i, v in enumerate(vecs):
        if core.get_aval(v).ndim != 1:
            raise ValueError(f"meshgrid: argument {i} must be 1-D, got shape "
                             f"{core.get_aval(v).shape}")
    shape = [core.get_aval(v).shape[0] for v in vecs]
    if indexing == "xy" and len(vecs) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, v in enumerate(vecs):
        axis = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(vecs) > 1 else i
        if sparse:
            out.append(lax.reshape(v, tuple(n if d == axis else 1 for d, n in enumerate(shape))))
        else:
            out.append(lax.broadcast_in_dim(v, tuple(shape), (axis,)))
    return out


def indices(dimensions, dtype=None, sparse=False):
    """Grids of the indices along each dimension of an array of shape `dimensions`."""
    dims = tuple(int(d) for d in dimensions)
    dtype = _dtype_or_default(dtype, dtypes.int64)
    grids = []
    for i, n in enumerate(dims):
        if sparse:
            grids.append(lax.reshape(lax.iota(dtype, n),
                                     tuple(n if j == i else 1 for j in range(len(dims)))))
        else:
            grids.append(lax.broadcasted_iota(dtype, dims, i) if n else
                         lax.full(dims, 0, dtype))
    if sparse:
        return tuple(grids)
    return stack(grids) if grids else lax.full((0,), 0, dtype)
