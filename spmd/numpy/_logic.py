"""Whole-array comparisons: isclose, allclose, array_equal, array_equiv."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_shapes, promote_args, shape_of
from spmd.numpy._reductions import all as _all
from spmd.transforms import dtypes, lax


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b| elementwise; infinities are close only to themselves."""
    a, b = promote_args("isclose", a, b)
    dtype = a.dtype
    if not dtypes.is_inexact(dtype):
        return lax.eq(a, b)
    real = np.finfo(dtype).dtype if dtypes.is_complex(dtype) else dtype
    shape = shape_of(a)
    bound = lax.add(lax.full(shape, atol, real), lax.mul(lax.full(shape, rtol, real), lax.abs(b)))
    close = lax.le(lax.abs(lax.sub(a, b)), bound)
    if dtypes.is_float(dtype):
        either_inf = lax.bitwise_or(uf.isinf(a), uf.isinf(b))
        close = lax.select(either_inf, lax.eq(a, b), close)
    if equal_nan:
        close = lax.bitwise_or(close, lax.bitwise_and(uf.isnan(a), uf.isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True when a1 and a2 have the same shape and elements."""
    x, y = asarray_value(a1), asarray_value(a2)
    if shape_of(x) != shape_of(y):
        return asarray_value(False)
    eq = uf.equal(x, y)
    if equal_nan:
        eq = uf.logical_or(eq, uf.logical_and(uf.isnan(x), uf.isnan(y)))
    return _all(eq)


def array_equiv(a1, a2):
    """True when a1 and a2 broadcast to one shape and are equal there."""
    x, y = asarray_value(a1), asarray_value(a2)
    try:
        broadcast_shapes(shape_of(x), shape_of(y))
    except ValueError:
        return asarray_value(False)
    return _all(uf.equal(x, y))
