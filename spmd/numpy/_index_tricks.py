"""jax.numpy's index helpers: the indices of diagonals and triangles, ix_, ravel_multi_index and
unravel_index, and NumPy's index objects (s_, index_exp, r_, c_, mgrid, ogrid). Shapes are
static, so the index arrays are computed with NumPy and returned as spmd arrays."""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, shape_of, stack
from spmd.numpy._creation import arange, linspace
from spmd.numpy._selection import nonzero
from spmd.transforms import dtypes, lax


def _index_arrays(arrays):
    return tuple(asarray_value(np.asarray(a, dtypes.default_int())) for a in arrays)


def diag_indices(n, ndim=2):
    n, ndim = operator.index(n), operator.index(ndim)
    if n < 0 or ndim < 0:
        raise ValueError(f"diag_indices: n and ndim must be non-negative, got n={n}, "
                         f"ndim={ndim}")
    return _index_arrays(np.diag_indices(n, ndim))


def diag_indices_from(arr):
    shape = shape_of(asarray_value(arr))
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(f"diag_indices_from: input must be at least 2-d with all dimensions "
                         f"equal, got shape {shape}")
    return diag_indices(shape[0], len(shape))


def tril_indices(n, k=0, m=None):
    return _index_arrays(np.tril_indices(operator.index(n), operator.index(k), m))


def triu_indices(n, k=0, m=None):
    return _index_arrays(np.triu_indices(operator.index(n), operator.index(k), m))


def _square_ish(name, arr):
    shape = shape_of(asarray_value(arr))
    if len(shape) != 2:
        raise ValueError(f"{name} requires a 2-d array, got shape {shape}")
    return shape


def tril_indices_from(arr, k=0):
    rows, cols = _square_ish("tril_indices_from", arr)
    return tril_indices(rows, k, cols)


def triu_indices_from(arr, k=0):
    rows, cols = _square_ish("triu_indices_from", arr)
    return triu_indices(rows, k, cols)


def mask_indices(n, mask_func, k=0, *, size=None):
    """The indices where mask_func(ones((n, n)), k) is non-zero (triu, tril...)."""
    return nonzero(mask_func(np.ones((n, n), np.int32), k), size=size)


def ix_(*args):
    """Open-mesh index arrays from 1-D sequences: the i-th has shape (1,...,n_i,...,1)."""
    out = []
    for i, a in enumerate(args):
        x = asarray_value(a)
        if len(shape_of(x)) != 1:
            raise ValueError(f"ix_: arguments must be 1-d, got shape {shape_of(x)}")
        if x.dtype == np.bool_:
            raise TypeError("ix_ does not accept boolean arrays (their length depends on their "
                            "values); pass nonzero(mask)[0]")
        shape = [1] * len(args)
        shape[i] = shape_of(x)[0]
        out.append(lax.reshape(x, tuple(shape)))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of the index tuples into an array of shape `dims`; mode 'raise' needs
    concrete indices, 'wrap' and 'clip' work on traced ones."""
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: {len(multi_index)} index arrays for {len(dims)} "
                         "dimensions")
    if order not in ("C", "F"):
        raise ValueError(f"ravel_multi_index: order must be 'C' or 'F', got {order!r}")
    idx = [asarray_value(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_integer(i.dtype) and i.dtype != np.bool_:
            raise TypeError(f"ravel_multi_index: only int indices permitted, got {i.dtype}")
    if mode == "raise":
        for i, d in zip(idx, dims):
            values = np.asarray(i)
            if values.size and (values.min() < 0 or values.max() >= d):
                raise ValueError("ravel_multi_index: invalid entry in coordinates array")
    elif mode == "wrap":
        idx = [uf.remainder(i, d) for i, d in zip(idx, dims)]
    elif mode == "clip":
        idx = [uf.minimum(uf.maximum(i, 0), d - 1) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"ravel_multi_index: mode must be 'raise', 'wrap' or 'clip', got "
                         f"{mode!r}")
    strides = np.cumprod((1,) + (dims[::-1] if order == "C" else dims)[:-1])
    strides = strides[::-1] if order == "C" else strides
    total = None
    for i, s in zip(idx, strides):
        term = uf.multiply(i, int(s))
        total = term if total is None else uf.add(total, term)
    return total


def unravel_index(indices, shape):
    """The index tuple of each flat index into an array of `shape`; out-of-range indices
    clip, as in JAX."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    idx = asarray_value(indices)
    if not dtypes.is_integer(idx.dtype):
        raise TypeError(f"unravel_index: only int indices permitted, got {idx.dtype}")
    size = int(np.prod(shape, dtype=np.int64))
    idx = uf.minimum(uf.maximum(_wrap_negative(idx, size), 0), max(size - 1, 0))
    out = []
    for d in reversed(shape):
        out.append(uf.remainder(idx, d))
        idx = uf.floor_divide(idx, d)
    return tuple(reversed(out))


def _wrap_negative(idx, size):
    return lax.select(uf.less(idx, 0), uf.add(idx, size), idx)


class _Grid:
    """mgrid (dense) and ogrid (open): index expressions become coordinate arrays."""

    def __init__(self, sparse: bool):
        self.sparse = sparse

    def __getitem__(self, key):
        single = not isinstance(key, tuple)
        keys = (key,) if single else key
        axes = []
        for k in keys:
            if not isinstance(k, slice):
                raise TypeError(f"mgrid/ogrid take slices, got {k!r}")
            start = 0 if k.start is None else k.start
            step = 1 if k.step is None else k.step
            if isinstance(step, complex):
                axes.append(linspace(start, k.stop, int(abs(step))))
            else:
                axes.append(arange(start, k.stop, step))
        if single:
            return axes[0]
        kind = np.result_type(*[a.dtype for a in axes])
        axes = [a.astype(kind) for a in axes]
        if self.sparse:
            return [lax.reshape(a, tuple(len(a) if i == j else 1 for j in range(len(axes))))
                    for i, a in enumerate(axes)]
        grids = [sh.broadcast_to(lax.reshape(a, tuple(len(a) if i == j else 1
                                                      for j in range(len(axes)))),
                                 tuple(len(b) for b in axes)) for i, a in enumerate(axes)]
        return stack(grids)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)
index_exp = np.index_exp
s_ = np.s_


class _Concatenator:
    """r_ and c_: NumPy's index expressions that concatenate, as spmd arrays."""

    def __init__(self, column: bool):
        self.column = column

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        parts = []
        for k in keys:
            if isinstance(k, str):
                raise NotImplementedError("r_/c_ directive strings are not supported by spmd; "
                                          "use concatenate or stack")
            if isinstance(k, slice):
                part = mgrid[k]
            else:
                part = sh.atleast_1d(asarray_value(k))
            if self.column:
                part = lax.reshape(part, (shape_of(part)[0], 1)) if len(shape_of(part)) == 1 \
                    else part
            parts.append(part)
        return sh.concatenate(parts, axis=-1 if self.column else 0)


r_ = _Concatenator(column=False)
c_ = _Concatenator(column=True)
