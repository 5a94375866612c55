"""Reductions: sum, prod, max, min, all, any, mean, var, std, argmax, argmin, cumulative sums
and products, their nan-ignoring variants, with NumPy's axis/keepdims/dtype and JAX's dtypes
(small integers and bools accumulate in the default integer; float16 in float32)."""
from __future__ import annotations

import builtins

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, canonicalize_axes, canonicalize_axis,
                              check_array_like, dtype_of, promote_to_inexact, shape_of)
from spmd.numpy._selection import where
from spmd.transforms import core, dtypes, lax


def _unsupported(name, **kwargs):
    for key, value in kwargs.items():
        if value is not None:
            raise NotImplementedError(f"the {key!r} argument to spmd.numpy.{name} is not "
                                      "supported")


def _prepare(name, a):
    check_array_like(name, a)
    return asarray_value(a)


def _promoted_integer(dtype):
    """The accumulation dtype of sum/prod: bools and narrow integers widen to the default
    (unsigned stays unsigned), as in JAX."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return dtypes.default_int()
    if dtypes.is_unsigned(dtype):
        return np.dtype(np.promote_types(dtype, dtypes.canonicalize(np.uint64)))
    if dtypes.is_integer(dtype):
        return np.dtype(np.promote_types(dtype, dtypes.default_int()))
    return dtype


def _computation_dtype(dtype):
    """Half-precision floats accumulate in float32 (then round back), as in JAX."""
    return np.dtype(np.float32) if np.dtype(dtype) in (dtypes.float16, dtypes.bfloat16) else dtype


def _keep(out, shape, axes, keepdims):
    if not keepdims:
        return out
    return lax.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _reduce(name, lax_reduce, a, axis, dtype, keepdims, promote):
    x = _prepare(name, a)
    shape = shape_of(x)
    axes = canonicalize_axes(axis, len(shape))
    out_dtype = dtypes.canonicalize(dtype) if dtype is not None else (
        _promoted_integer(dtype_of(x)) if promote else dtype_of(x))
    comp = _computation_dtype(out_dtype)
    x = lax.convert_element_type(x, comp, core_weak(x))
    out = lax.convert_element_type(lax_reduce(x, axes), out_dtype, core_weak(x))
    return _keep(out, shape, axes, keepdims)


def core_weak(x) -> bool:
    return core.get_aval(x).weak_type


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
        promote_integers=True):
    _unsupported("sum", out=out, initial=initial, where=where)
    return _reduce("sum", lax.reduce_sum, a, axis, dtype, keepdims, promote_integers)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
         promote_integers=True):
    _unsupported("prod", out=out, initial=initial, where=where)
    return _reduce("prod", lax.reduce_prod, a, axis, dtype, keepdims, promote_integers)


def _check_nonempty(name, x, axes):
    shape = shape_of(x)
    if builtins.any(shape[a] == 0 for a in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity "
                         f"(shape {shape}, axis {axes})")


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("max", out=out, initial=initial, where=where)
    x = _prepare("max", a)
    _check_nonempty("max", x, canonicalize_axes(axis, len(shape_of(x))))
    return _reduce("max", lax.reduce_max, x, axis, None, keepdims, False)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("min", out=out, initial=initial, where=where)
    x = _prepare("min", a)
    _check_nonempty("min", x, canonicalize_axes(axis, len(shape_of(x))))
    return _reduce("min", lax.reduce_min, x, axis, None, keepdims, False)


amax, amin = max, min


def _as_bool(x):
    return x if dtype_of(x) == np.bool_ else uf.not_equal(x, 0)


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    _unsupported("all", out=out, where=where)
    return _reduce("all", lax.reduce_and, _as_bool(_prepare("all", a)), axis, None, keepdims,
                   False)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    _unsupported("any", out=out, where=where)
    return _reduce("any", lax.reduce_or, _as_bool(_prepare("any", a)), axis, None, keepdims,
                   False)


def _count(shape, axes) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _mean_dtypes(x, dtype):
    """(result dtype, computation dtype): integers average in the default float."""
    if dtype is not None:
        out = dtypes.canonicalize(dtype)
    else:
        out = dtype_of(x) if dtypes.is_inexact(dtype_of(x)) else dtypes.default_float()
    return out, _computation_dtype(out)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _unsupported("mean", out=out, where=where)
    x = _prepare("mean", a)
    shape = shape_of(x)
    axes = canonicalize_axes(axis, len(shape))
    out_dtype, comp = _mean_dtypes(x, dtype)
    total = lax.reduce_sum(lax.convert_element_type(x, comp, core_weak(x)), axes)
    result = uf.divide(total, _count(shape, axes))
    return _keep(lax.convert_element_type(result, out_dtype, core_weak(x)), shape, axes, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    _unsupported("var", out=out, where=where)
    if correction is not None:
        ddof = correction
    x = _prepare("var", a)
    shape = shape_of(x)
    axes = canonicalize_axes(axis, len(shape))
    out_dtype, comp = _mean_dtypes(x, dtype)
    if dtypes.is_complex(out_dtype):
        out_dtype = dtypes.canonicalize(np.finfo(out_dtype).dtype)
    x = lax.convert_element_type(x, comp if not dtypes.is_complex(dtype_of(x)) else dtype_of(x),
                                 core_weak(x))
    centered = uf.subtract(x, mean(x, axes, keepdims=True))
    squared = uf.real(uf.multiply(centered, uf.conjugate(centered)))
    n = _count(shape, axes) - ddof
    result = uf.divide(lax.reduce_sum(squared, axes), n if n > 0 else np.nan)
    return _keep(lax.convert_element_type(result, out_dtype, core_weak(x)), shape, axes, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    _unsupported("std", out=out, where=where)
    return uf.sqrt(var(a, axis, dtype, None, ddof, keepdims, correction=correction))


def _arg_reduction(name, a, axis, keepdims):
    x = _prepare(name, a)
    if axis is None:
        shape = shape_of(x)
        x = lax.reshape(x, (int(np.prod(shape, dtype=np.int64)),))
        ax = 0
    else:
        shape = shape_of(x)
        ax = canonicalize_axis(axis, len(shape))
    if shape_of(x)[ax] == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    lax_fn = lax.argmax if name == "argmax" else lax.argmin
    out = lax_fn(x, ax, dtypes.default_int())
    if not keepdims:
        return out
    axes = tuple(range(len(shape))) if axis is None else (ax,)
    return lax.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def argmax(a, axis=None, out=None, keepdims=None):
    _unsupported("argmax", out=out)
    return _arg_reduction("argmax", a, axis, bool(keepdims))


def argmin(a, axis=None, out=None, keepdims=None):
    _unsupported("argmin", out=out)
    return _arg_reduction("argmin", a, axis, bool(keepdims))


def _cumulative(name, lax_fn, a, axis, dtype):
    x = _prepare(name, a)
    if axis is None:
        x = lax.reshape(x, (int(np.prod(shape_of(x), dtype=np.int64)),))
        axis = 0
    ax = canonicalize_axis(axis, len(shape_of(x)))
    out_dtype = dtypes.canonicalize(dtype) if dtype is not None else _promoted_integer(
        dtype_of(x))
    if out_dtype == np.bool_:
        out_dtype = dtypes.default_int()
    x = lax.convert_element_type(x, _computation_dtype(out_dtype), core_weak(x))
    return lax.convert_element_type(lax_fn(x, axis=ax), out_dtype, core_weak(x))


def cumsum(a, axis=None, dtype=None, out=None):
    _unsupported("cumsum", out=out)
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    _unsupported("cumprod", out=out)
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype)


cumulative_sum = cumsum
cumulative_prod = cumprod


def _replace_nan(a, value):
    x = _prepare("nan-reduction", a)
    if not dtypes.is_inexact(dtype_of(x)):
        return x
    return where(uf.isnan(x), value, x)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("nansum", out=out, initial=initial, where=where)
    return sum(_replace_nan(a, 0), axis, dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("nanprod", out=out, initial=initial, where=where)
    return prod(_replace_nan(a, 1), axis, dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _unsupported("nanmean", out=out, where=where)
    x = _prepare("nanmean", a)
    if not dtypes.is_inexact(dtype_of(x)):
        return mean(x, axis, dtype, keepdims=keepdims)
    count = sum(uf.logical_not(uf.isnan(x)), axis, keepdims=keepdims)
    total = nansum(x, axis, dtype, keepdims=keepdims)
    return uf.divide(total, lax.convert_element_type(count, dtype_of(total)))


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("nanmax", out=out, initial=initial, where=where)
    return max(_replace_nan(a, -np.inf), axis, keepdims=keepdims)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _unsupported("nanmin", out=out, initial=initial, where=where)
    return min(_replace_nan(a, np.inf), axis, keepdims=keepdims)


def count_nonzero(a, axis=None, keepdims=False):
    return sum(_as_bool(_prepare("count_nonzero", a)), axis, keepdims=keepdims)


def ptp(a, axis=None, out=None, keepdims=False):
    _unsupported("ptp", out=out)
    return uf.subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        x = _prepare("average", a)
        count = _count(shape_of(x), canonicalize_axes(axis, len(shape_of(x))))
        scale = lax.full(shape_of(avg), count, dtype_of(avg))
    else:
        x, w = _prepare("average", a), _prepare("average", weights)
        if len(shape_of(w)) == 1 and len(shape_of(x)) > 1 and axis is not None:
            # NumPy's 1-D weights run along `axis`
            if not isinstance(axis, int):
                raise TypeError("average: 1-D weights need a single integer axis")
            ax = canonicalize_axis(axis, len(shape_of(x)))
            if shape_of(w)[0] != shape_of(x)[ax]:
                raise ValueError(f"average: weights of length {shape_of(w)[0]} differ from the "
                                 f"length of axis {ax} of the array of shape {shape_of(x)}")
            w = lax.reshape(w, tuple(n if i == ax else 1 for i, n in enumerate(shape_of(x))))
        x, w = promote_to_inexact("average", x, w)
        scale = sum(w, axis, keepdims=keepdims)
        avg = uf.divide(sum(uf.multiply(x, w), axis, keepdims=keepdims), scale)
    return (avg, scale) if returned else avg
