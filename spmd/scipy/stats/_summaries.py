"""The sample summaries of jax.scipy.stats: mode, rankdata and sem, each along an axis."""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes
from spmd.numpy._core import canonicalize_axis
from spmd.scipy.stats._common import promote
from spmd.transforms.api import vmap
from spmd.transforms.jit import jit

_NAN_POLICIES = ("propagate", "omit", "raise")


class ModeResult(NamedTuple):
    mode: object
    count: object


def _check_nan_policy(name, nan_policy):
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         "{'propagate', 'omit', 'raise'}")
    if nan_policy == "omit":
        raise NotImplementedError(f"Logic for `nan_policy` of {nan_policy} is not implemented")
    if nan_policy == "raise":
        raise NotImplementedError(
            f"In order to best JIT compile `{name}`, we cannot know whether `x` contains nans. "
            f"Please check if nans exist in `x` outside of the `{name}` function.")


def _columns(x, axis):
    """x with `axis` first and the other axes flattened into one: (n, columns)."""
    x = jnp.moveaxis(x, axis, 0)
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


def _mode_of_column(column):
    """The most frequent value (the smallest among ties) and its count, from the sorted column:
    each element's count is the width of its run of equal values."""
    ordered = jnp.sort(column)
    counts = jnp.subtract(jnp.searchsorted(ordered, ordered, side="right"),
                          jnp.searchsorted(ordered, ordered, side="left"))
    first_most = jnp.argmax(counts)  # the first run of the largest count: its smallest value
    return ordered[first_most], counts[first_most]


def mode(a, axis=0, nan_policy="propagate", keepdims=False):
    """The modal value along `axis` (None: of the flattened array) and how often it occurs."""
    _check_nan_policy("mode", nan_policy)
    return _mode(jnp.atleast_1d(jnp.asarray(a)), axis=axis, keepdims=bool(keepdims))


@partial(jit, static_argnames=("axis", "keepdims"))  # one program: sorts, searches, gathers
def _mode(x, *, axis, keepdims):
    if axis is None:
        shape = (1,) * x.ndim if keepdims else ()
        x, axis = x.ravel(), 0
    else:
        axis = canonicalize_axis(axis, x.ndim)
        shape = tuple(1 if i == axis else n for i, n in enumerate(x.shape) if keepdims
                      or i != axis)
    if x.shape[axis] == 0:
        float_dtype = dtypes.canonicalize_dtype(float)
        return ModeResult(jnp.full(shape, np.nan, float_dtype), jnp.zeros(shape, float_dtype))
    values, counts = vmap(_mode_of_column, in_axes=1)(_columns(x, axis))
    return ModeResult(values.reshape(shape), counts.reshape(shape))


_RANK_METHODS = ("average", "min", "max", "dense", "ordinal")


def _ranks(a, method):
    """The ranks (from 1) of a 1-d array; all NaN where it holds a NaN."""
    float_dtype = dtypes.canonicalize_dtype(float)
    order = jnp.argsort(a, stable=True)
    ordered = a[order]
    position = jnp.zeros_like(order).at[order].set(jnp.arange(a.size, dtype=order.dtype))
    if method == "ordinal":
        ranks = position + 1
    else:
        # dense rank: how many distinct values are <= each; min/max: the run of ties' ends
        new_value = jnp.concatenate([jnp.array([True]), ordered[1:] != ordered[:-1]])
        dense = jnp.cumsum(new_value)[position]
        low = jnp.searchsorted(ordered, a, side="left") + 1
        high = jnp.searchsorted(ordered, a, side="right")
        ranks = {"dense": dense, "min": low, "max": high,
                 "average": jnp.multiply(0.5, jnp.add(low, high))}[method]
    ranks = ranks.astype(float_dtype)
    return jnp.where(jnp.any(jnp.isnan(a)), np.nan, ranks) if dtypes.issubdtype(
        a.dtype, np.inexact) else ranks


def rankdata(a, method="average", *, axis=None, nan_policy="propagate"):
    """Ranks from 1, ties by `method` (average, min, max, dense, ordinal), as SciPy's."""
    _check_nan_policy("rankdata", nan_policy)
    if method not in _RANK_METHODS:
        raise ValueError(f"unknown method '{method}'")
    return _rankdata(jnp.asarray(a), method=method, axis=axis)


@partial(jit, static_argnames=("method", "axis"))
def _rankdata(a, *, method, axis):
    if axis is None:
        return _ranks(a.ravel(), method)
    axis = canonicalize_axis(axis, a.ndim)
    moved = jnp.moveaxis(a, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    ranks = vmap(lambda row: _ranks(row, method))(flat).reshape(moved.shape)
    return jnp.moveaxis(ranks, -1, axis)


def sem(a, axis=0, ddof=1, nan_policy="propagate", *, keepdims=False):
    """The standard error of the mean: std(ddof) / sqrt(n); "omit" skips NaNs."""
    b, = promote("sem", a)
    if nan_policy == "propagate":
        size = b.size if axis is None else b.shape[axis]
        return jnp.divide(jnp.std(b, axis, ddof=ddof, keepdims=keepdims),
                          jnp.sqrt(np.asarray(size, b.dtype)))
    if nan_policy == "omit":
        count = jnp.sum(jnp.logical_not(jnp.isnan(b)), axis, keepdims=keepdims)
        return jnp.divide(jnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims),
                          jnp.sqrt(count).astype(b.dtype))
    raise ValueError(f"{nan_policy} is not supported")
