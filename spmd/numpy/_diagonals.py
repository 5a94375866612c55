"""Diagonals and triangles: diagonal, diag, trace, tri, triu, tril."""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import asarray_value, canonicalize_axis, shape_of
from spmd.numpy._indexing import getitem, scatter_index
from spmd.numpy._reductions import sum as _sum
from spmd.numpy._shape import moveaxis, ravel
from spmd.transforms import dtypes, lax


def _diagonal_positions(n, m, offset):
    """Row and column indices of the `offset` diagonal of an n x m matrix."""
    rows = np.arange(max(0, -offset), n)
    cols = rows + offset
    keep = (cols >= 0) & (cols < m)
    return rows[keep], cols[keep]


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of the (axis1, axis2) planes, as the last axis (numpy.diagonal)."""
    x = asarray_value(a)
    nd = len(shape_of(x))
    if nd < 2:
        raise ValueError(f"diagonal requires an array of at least two dimensions, got shape "
                         f"{shape_of(x)}")
    a1, a2 = canonicalize_axis(axis1, nd), canonicalize_axis(axis2, nd)
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    x = moveaxis(x, (a1, a2), (-2, -1))
    n, m = shape_of(x)[-2:]
    rows, cols = _diagonal_positions(n, m, int(offset))
    return getitem(x, (Ellipsis, rows, cols))


def diag(v, k=0):
    """The k-th diagonal of a matrix, or a matrix with a vector on its k-th diagonal."""
    x = asarray_value(v)
    s = shape_of(x)
    if len(s) == 2:
        return diagonal(x, k)
    if len(s) != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {s}")
    n = s[0] + abs(int(k))
    rows, cols = _diagonal_positions(n, n, int(k))
    zeros = lax.full((n, n), 0, x.dtype)
    return scatter_index(zeros, (rows, cols), x, "set")


def diagflat(v, k=0):
    return diag(ravel(v), k)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.trace is not supported")
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the k-th diagonal."""
    M = N if M is None else M
    rows = lax.broadcasted_iota(np.int32, (N, M), 0)
    cols = lax.broadcasted_iota(np.int32, (N, M), 1)
    below = lax.ge(lax.add(rows, lax.full((N, M), int(k), np.int32)), cols)
    return lax.convert_element_type(below, dtypes.canonicalize(
        dtypes.float64 if dtype is None else dtype))


def _triangle(m, k, lower):
    x = asarray_value(m)
    s = shape_of(x)
    if len(s) < 2:
        raise ValueError(f"{'tril' if lower else 'triu'} needs an array of rank >= 2, got "
                         f"shape {s}")
    n, mm = s[-2:]
    keep = tri(n, mm, k if lower else k - 1, np.bool_)
    if not lower:
        keep = lax.bitwise_not(keep)
    keep = lax.broadcast_in_dim(keep, s, (len(s) - 2, len(s) - 1))
    return lax.select(keep, x, lax.full(s, 0, x.dtype))


def tril(m, k=0):
    return _triangle(m, k, lower=True)


def triu(m, k=0):
    return _triangle(m, k, lower=False)
