"""jax.numpy's order statistics and counting: quantile, percentile, median and their NaN-ignoring
forms, nanvar/nanstd, nanargmax/nanargmin, nancumsum/nancumprod, cov, corrcoef, searchsorted,
digitize, bincount, histogram and histogram_bin_edges."""
from __future__ import annotations

import builtins
import functools
import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, canonicalize_axes, dtype_of, promote_to_inexact,
                              result_dtype, shape_of, to_dtype)
from spmd.numpy._creation import linspace, zeros
from spmd.numpy._diagonals import diagonal
from spmd.numpy._indexing import take, take_along_axis
from spmd.numpy._linalg import dot
from spmd.numpy._reductions import (_replace_nan, all as all_, argmax, argmin, cumprod, cumsum,
                                    mean, nanmean, sum)
from spmd.numpy._selection import sort, where as _where
from spmd.transforms import core, dtypes, lax
from spmd.transforms.api import vmap
from spmd.transforms.jit import jit

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name, a, q, axis, method, keepdims, ignore_nan):
    if method not in _METHODS:
        raise ValueError(f"{name}: method must be one of {_METHODS}, got {method!r}")
    q = asarray_value(q)
    if not isinstance(q, core.Tracer):
        qv = np.asarray(q)
        if qv.size and (qv.min() < 0 or qv.max() > 1):
            raise ValueError(f"{name}: quantiles must be in the range [0, 1]"
                             if "quantile" in name or "median" in name
                             else f"{name}: percentiles must be in the range [0, 100]")
    axis = tuple(axis) if isinstance(axis, list) else axis
    # one compiled program (not one per operation when called eagerly), as JAX's
    return _quantile_program(a, q, axis=axis, method=method, keepdims=keepdims,
                             ignore_nan=ignore_nan, name=name)


@functools.partial(jit, inline=True,
                   static_argnames=("axis", "method", "keepdims", "ignore_nan", "name"))
def _quantile_program(a, q, *, axis, method, keepdims, ignore_nan, name):
    (x,) = promote_to_inexact(name, a)
    if dtypes.is_complex(dtype_of(x)):
        raise TypeError(f"{name} does not support complex input")
    shape = shape_of(x)
    axes = canonicalize_axes(axis, len(shape))
    kept = [d for d in range(len(shape)) if d not in axes]
    # the reduced axes, flattened, last; sorted (NaN sorts last)
    x = lax.transpose(x, tuple(kept + list(axes)))
    x = lax.reshape(x, tuple(shape[d] for d in kept) + (int(np.prod([shape[d] for d in axes],
                                                                       dtype=np.int64)),))
    values = sort(x, axis=-1)
    n = shape_of(values)[-1]
    if n == 0:
        raise ValueError(f"{name} of an empty array")
    nan_count = sum(uf.isnan(values), axis=-1)
    count = uf.subtract(n, nan_count) if ignore_nan else lax.full(shape_of(nan_count), n,
                                                                    nan_count.dtype)
    q = lax.convert_element_type(q, dtype_of(values))

    def one(qi):
        last = lax.convert_element_type(uf.maximum(uf.subtract(count, 1), 0), dtype_of(values))
        pos = uf.multiply(qi, last)
        low, high = uf.floor(pos), uf.ceil(pos)
        if method == "nearest":
            low = high = uf.rint(pos)
        pick = lambda p: take_along_axis(  # noqa: E731
            values, sh.expand_dims(lax.convert_element_type(p, np.int32), -1), axis=-1)[..., 0]
        lo, hi = pick(low), pick(high)
        if method in ("lower", "nearest"):
            out = lo
        elif method == "higher":
            out = hi
        elif method == "midpoint":
            out = uf.multiply(uf.add(lo, hi), 0.5)
        else:
            out = uf.add(lo, uf.multiply(uf.subtract(hi, lo), uf.subtract(pos, low)))
        empty = uf.equal(count, 0) if ignore_nan else uf.greater(nan_count, 0)
        return _where(empty, np.nan, out)

    qshape = shape_of(q)
    out = one(q) if not qshape else lax.reshape(
        vmap(one)(sh.ravel(q)), qshape + tuple(shape[d] for d in kept))
    if keepdims:
        full = [1 if d in axes else shape[d] for d in range(len(shape))]
        out = lax.reshape(out, qshape + tuple(full))
    return out


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
    _no_out("quantile", out)
    return _quantile("quantile", a, q, axis, method, keepdims, ignore_nan=False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False):
    _no_out("nanquantile", out)
    return _quantile("nanquantile", a, q, axis, method, keepdims, ignore_nan=True)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
    _no_out("percentile", out)
    return _quantile("percentile", a, uf.divide(asarray_value(q), 100), axis, method, keepdims,
                     False)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False):
    _no_out("nanpercentile", out)
    return _quantile("nanpercentile", a, uf.divide(asarray_value(q), 100), axis, method,
                     keepdims, True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _no_out("median", out)
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims, ignore_nan=False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _no_out("nanmedian", out)
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, ignore_nan=True)


def _no_out(name, out):
    if out is not None:
        raise NotImplementedError(f"the 'out' argument to spmd.numpy.{name} is not supported")


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           correction=None):
    """Variance of the non-NaN entries."""
    _no_out("nanvar", out)
    if where is not None:
        raise NotImplementedError("the 'where' argument to spmd.numpy.nanvar is not supported")
    ddof = ddof if correction is None else correction
    (x,) = promote_to_inexact("nanvar", a)
    nan = uf.isnan(x)
    # NaNs zeroed before squaring, so that their (zero) cotangents stay finite
    centered = _where(nan, 0, uf.subtract(x, nanmean(x, axis, dtype, keepdims=True)))
    squared = uf.real(uf.multiply(centered, uf.conjugate(centered)))
    count = sum(uf.logical_not(nan), axis, keepdims=keepdims)
    total = sum(squared, axis, dtype, keepdims=keepdims)
    denominator = lax.convert_element_type(uf.subtract(count, ddof), dtype_of(total))
    return _where(uf.greater(denominator, 0), uf.divide(total, denominator), np.nan)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           correction=None):
    return uf.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where,
                          correction=correction))


def _nan_arg(name, reducer, fill, a, axis, keepdims):
    x = asarray_value(a)
    if not dtypes.is_inexact(dtype_of(x)):
        return reducer(x, axis, keepdims=keepdims)
    nan = uf.isnan(x)
    out = reducer(_where(nan, fill, x), axis, keepdims=keepdims)
    return _where(all_(nan, axis, keepdims=keepdims), -1, out)  # JAX's answer: all NaN gives -1


def nanargmax(a, axis=None, out=None, keepdims=None):
    _no_out("nanargmax", out)
    return _nan_arg("nanargmax", argmax, -np.inf, a, axis, bool(keepdims))


def nanargmin(a, axis=None, out=None, keepdims=None):
    _no_out("nanargmin", out)
    return _nan_arg("nanargmin", argmin, np.inf, a, axis, bool(keepdims))


def nancumsum(a, axis=None, dtype=None, out=None):
    _no_out("nancumsum", out)
    return cumsum(_replace_nan(a, 0), axis, dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    _no_out("nancumprod", out)
    return cumprod(_replace_nan(a, 1), axis, dtype)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """The covariance matrix of the variables (rows, or columns with rowvar=False)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("the fweights and aweights arguments to spmd.numpy.cov are "
                                  "not supported")
    (x,) = promote_to_inexact("cov", m)
    if len(shape_of(x)) > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {shape_of(x)})")
    x = sh.atleast_2d(x)
    if not rowvar and shape_of(x)[0] != 1:
        x = lax.transpose(x, (1, 0))
    if y is not None:
        (yy,) = promote_to_inexact("cov", y)
        yy = sh.atleast_2d(yy)
        if not rowvar and shape_of(yy)[0] != 1:
            yy = lax.transpose(yy, (1, 0))
        x = sh.concatenate([x, yy], axis=0)
    n = shape_of(x)[1]
    ddof = (0 if bias else 1) if ddof is None else operator.index(ddof)
    centered = uf.subtract(x, mean(x, axis=1, keepdims=True))
    product = dot(centered, uf.conjugate(lax.transpose(centered, (1, 0))))
    out = uf.divide(product, float(n - ddof) if n > ddof else np.nan)
    return sh.squeeze(out) if shape_of(out) == (1, 1) else out


def corrcoef(x, y=None, rowvar=True):
    """Pearson correlation coefficients (cov normalized by the standard deviations)."""
    c = cov(x, y, rowvar)
    if not shape_of(c):
        return uf.divide(c, c)
    d = uf.sqrt(uf.real(diagonal(c)))
    out = uf.divide(uf.divide(c, d[:, None]), d[None, :])
    if dtypes.is_complex(dtype_of(out)):
        return out
    return uf.minimum(uf.maximum(out, -1), 1)


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Indices where v's elements would go in the sorted 1-D array a to keep it sorted."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a, v = asarray_value(a), asarray_value(v)
    if len(shape_of(a)) != 1:
        raise ValueError(f"searchsorted: a must be 1-d, got shape {shape_of(a)}")
    if sorter is not None:
        a = take(a, sorter)
    return _searchsorted_program(a, v, side=side)


@functools.partial(jit, inline=True, static_argnames=("side",))
def _searchsorted_program(a, v, *, side):
    dtype, weak = result_dtype(a, v)
    a, v = to_dtype(a, dtype, weak), to_dtype(v, dtype, weak)
    before = uf.less if side == "left" else uf.less_equal
    # a's entries that go before each v: a count over a broadcast comparison
    hits = before(lax.reshape(a, (1,) * len(shape_of(v)) + shape_of(a)), sh.expand_dims(v, -1))
    return sum(hits, axis=-1, dtype=dtypes.default_int())


def digitize(x, bins, right=False):
    """The index of the bin each x falls in (bins increasing or decreasing)."""
    bins = asarray_value(bins)
    if len(shape_of(bins)) != 1:
        raise ValueError(f"digitize: bins must be 1-d, got shape {shape_of(bins)}")
    n = shape_of(bins)[0]
    if n < 2:
        return searchsorted(bins, x, side="left" if right else "right")
    increasing = uf.greater_equal(bins[-1], bins[0])
    up = searchsorted(bins, x, side="left" if right else "right")
    down = uf.subtract(n, searchsorted(sh.flip(bins, 0), x, side="left" if right else "right"))
    return _where(increasing, up, down)


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed weights) of each non-negative integer in x; under jit `length` must
    be given (the output's size). Values outside [0, length) are dropped."""
    x = asarray_value(x)
    if not dtypes.is_integer(dtype_of(x)):
        raise TypeError(f"bincount: x must have an integer dtype, got {dtype_of(x)}")
    if len(shape_of(x)) != 1:
        raise ValueError(f"bincount: x must be 1-d, got shape {shape_of(x)}")
    minlength = operator.index(minlength)
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    if length is None:
        if isinstance(x, core.Tracer):
            x.to_concrete("bincount's length (pass length= under jit)")
        values = np.asarray(x)
        if values.size and values.min() < 0:
            raise ValueError("bincount: x must be non-negative")
        length = builtins.max(minlength, int(values.max()) + 1 if values.size else 0)
    if weights is None:
        weights = lax.full(shape_of(x), 1, dtypes.default_int())
    weights = asarray_value(weights)
    if shape_of(weights) != shape_of(x):
        raise ValueError(f"bincount: weights of shape {shape_of(weights)} must match x's "
                         f"{shape_of(x)}")
    return zeros(operator.index(length), dtype_of(weights)).at[x].add(weights, mode="drop")


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
    """Edges of `bins` equal-width bins spanning `range` (default: a's min and max)."""
    if not isinstance(bins, (int, np.integer)):
        return promote_to_inexact("histogram_bin_edges", bins)[0]
    if bins < 1:
        raise ValueError(f"histogram_bin_edges: bins must be positive, got {bins}")
    (x,) = promote_to_inexact("histogram_bin_edges", a)
    x = sh.ravel(x)
    if range is None:
        lo, hi = x.min(), x.max()
    else:
        lo, hi = range
        if lo > hi:
            raise ValueError("histogram_bin_edges: max must be larger than min in range")
    lo, hi = asarray_value(lo, dtype_of(x)), asarray_value(hi, dtype_of(x))
    same = uf.equal(lo, hi)
    lo, hi = _where(same, uf.subtract(lo, 0.5), lo), _where(same, uf.add(hi, 0.5), hi)
    return linspace(lo, hi, int(bins) + 1, dtype=dtype_of(x))


def bin_index(x, edges):
    """(the bin of each value of 1-d x among sorted `edges`, whether it lies inside them); the
    last bin includes its right edge."""
    n = shape_of(edges)[0] - 1
    idx = uf.subtract(searchsorted(edges, x, side="right"), 1)
    idx = _where(uf.equal(x, edges[-1]), n - 1, idx)
    inside = uf.logical_and(uf.greater_equal(x, edges[0]), uf.less_equal(x, edges[-1]))
    return idx, inside


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """(counts, bin edges); the last bin includes its right edge, values outside are not
    counted. density=True divides by the total and the bin widths."""
    edges = histogram_bin_edges(a, bins, range)
    x = sh.ravel(promote_to_inexact("histogram", a)[0])
    n = shape_of(edges)[0] - 1
    idx, inside = bin_index(x, edges)
    idx = _where(inside, idx, n)  # dropped by bincount's length
    w = None if weights is None else sh.ravel(asarray_value(weights))
    counts = bincount(idx, w, length=n)
    if density:
        widths = uf.subtract(edges[1:], edges[:-1])
        counts = uf.divide(uf.divide(counts, sum(counts)), widths)
    return counts, edges

