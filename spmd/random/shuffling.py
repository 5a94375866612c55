"""permutation and choice: random orders and samples, by JAX's algorithms.

A shuffle sorts the array by fresh 32-bit random keys, repeated often enough that ties (which
a stable sort would resolve by position) are unlikely to matter: ceil(3 ln(n) / ln(2**32 - 1))
rounds, one for arrays up to 1625 elements (Tjablin's criterion, as in JAX and TensorFlow).
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, is_array_like
from spmd.numpy._indexing import take
from spmd.random import impls
from spmd.random.keys import PRNGKeyArray, check_key
from spmd.random.samplers import _gumbel, _uniform, canonical_shape, gumbel_mode, randint
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit
from spmd.transforms.lax.slicing import index_in_dim, slice_in_dim

_UINT32_MAX = 2 ** 32 - 1


def _canonical_axis(axis: int, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def _concrete_int(x, name: str) -> int:
    if not dtypes.is_integer(core.get_aval(x).dtype):
        raise TypeError(f"{name}: x must be an integer or at least 1-dimensional, got dtype "
                        f"{core.get_aval(x).dtype}")
    return int(x)  # a traced value raises the concretization error: the size fixes the shape


def permutation(key, x, axis=0, independent=False):
    """A random permutation of range(x) for an integer x, or of x's slices along `axis` (each
    1-d slice shuffled on its own with independent=True)."""
    key, _, impl = check_key("permutation", key)
    if not is_array_like(x):
        raise TypeError(f"permutation: x must be an int or an array, got {type(x).__name__}")
    ndim = core.get_aval(x).ndim
    axis = _canonical_axis(axis, ndim or 1, "permutation")
    if not ndim:
        n = _concrete_int(x, "permutation")
        return _shuffle(key, lax.iota(dtypes.default_int(), n), 0, impls.layout(impl))
    x = asarray_value(x)
    if independent or ndim == 1:
        return _shuffle(key, x, axis, impls.layout(impl))
    n = core.get_aval(x).shape[axis]
    order = _shuffle(key, lax.iota(dtypes.default_int(), n), 0, impls.layout(impl))
    return take(x, order, axis, unique_indices=True)


@partial(jit, static_argnums=(2, 3))
def _shuffle(key, x, axis, layout):
    size = core.get_aval(x).size
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(_UINT32_MAX)))
    for _ in range(rounds):
        keys = impls.split(key, (2,), layout)
        key, subkey = (index_in_dim(keys, i, keepdims=False) for i in (0, 1))
        sort_keys = impls.random_bits(subkey, 32, core.get_aval(x).shape, layout)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """A sample of `shape` from a's slices along `axis` (or from range(a) for an integer a),
    with or without replacement, uniform or with probabilities p.

    Bit-exact with JAX except with p and replace=True, where the cumulative sum of p may round
    differently from JAX's when p's entries are not exact binary fractions; a draw landing within
    that rounding of a category boundary (probability ~1e-7 per draw in float32) can then differ.
    """
    key, _, impl = check_key("choice", key)
    typed_key = PRNGKeyArray(key, impl)  # for the samplers below: the same implementation
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape argument of spmd.random.choice must be a sequence, got {shape!r}")
    shape = canonical_shape("choice", shape)
    if not is_array_like(a):
        raise TypeError(f"choice: a must be an int or an array, got {type(a).__name__}")
    arr = asarray_value(a)
    aval = core.get_aval(arr)
    if aval.ndim == 0:
        n_inputs = _concrete_int(a, "choice")
    else:
        axis = _canonical_axis(axis, aval.ndim, "choice")
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return lax.full(shape, 0, aval.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                         f"(size {n_inputs}) when 'replace=False'")
    if p is None:
        if replace:
            ind = randint(typed_key, shape, 0, n_inputs)
        else:
            source = lax.iota(dtypes.default_int(), n_inputs) if aval.ndim == 0 else arr
            perm = permutation(typed_key, source, axis)
            return _reshape_draws(slice_in_dim(perm, 0, n_draws, axis=axis if aval.ndim else 0),
                                  aval, shape, axis)
    else:
        p = asarray_value(p)
        if not dtypes.is_inexact(core.get_aval(p).dtype):
            p = lax.convert_element_type(p, dtypes.default_float())
        if core.get_aval(p).shape != (n_inputs,):
            raise ValueError("p must be None or a 1D vector with the same size as a.shape[axis]. "
                             f"p has shape {core.get_aval(p).shape} and a.shape[axis] is "
                             f"{n_inputs}.")
        ind = _weighted_indices(key, p, shape, n_draws, bool(replace), gumbel_mode(mode),
                                impls.layout(impl))
    result = ind if aval.ndim == 0 else take(arr, ind, axis)
    return _reshape_draws(result, aval, shape, axis)


def _reshape_draws(result, aval, shape, axis):
    if aval.ndim == 0:
        return lax.reshape(result, shape)
    return lax.reshape(result, aval.shape[:axis] + tuple(shape) + aval.shape[axis + 1:])


@partial(jit, static_argnums=(2, 3, 4, 5, 6))
def _weighted_indices(key, p, shape, n_draws, replace, mode, layout):
    dtype = core.get_aval(p).dtype
    if replace:
        # inverse CDF: the first category whose cumulative weight reaches r (searchsorted, left)
        cumulative = lax.cumsum(p, axis=0)
        total = index_in_dim(cumulative, -1, keepdims=False)
        r = uf.multiply(total, uf.subtract(1, _uniform(key, shape, dtype, 0., 1., layout)))
        below = uf.less(cumulative, lax.expand_dims(r, (len(shape),)))
        return lax.reduce_sum(lax.convert_element_type(below, dtypes.default_int()),
                              axes=(len(shape),))
    # Gumbel top-k: the n_draws smallest of -gumbel - log p are a weighted sample without
    # replacement
    g = uf.subtract(lax.neg(_gumbel(key, core.get_aval(p).shape, dtype, mode, layout)), uf.log(p))
    return slice_in_dim(lax.argsort(g, 0, True, dtypes.default_int()), 0, n_draws)
