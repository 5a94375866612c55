"""The samplers built on Gamma draws, each by JAX's formula and key splits (so the same key
gives JAX's numbers): beta and dirichlet (normalized gammas, in log space), chisquare, f and t
(scaled gammas), generalized_normal and ball (powers of gammas with random signs)."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import broadcast_to
from spmd.numpy._reductions import sum as _sum
from spmd.numpy._softmax import softmax
from spmd.random.distributions import (_checked, _float_dtype, _key_and_layout, _rademacher,
                                       _two_keys)
from spmd.random.gamma import _gamma
from spmd.random.samplers import _exponential, _normal_real, canonical_shape, check_shape
from spmd.transforms import core, lax
from spmd.transforms.jit import jit


def _as(x, dtype):
    return lax.convert_element_type(x, dtype)


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) values: Ga / (Ga + Gb) for independent gammas, formed from their logs so that
    small a and b keep their precision."""
    key, shape, dtype, layout = _checked("beta", key, shape, dtype, a, b)
    return _beta(key, a, b, shape, dtype, layout)


@partial(jit, static_argnums=(3, 4, 5))
def _beta(key, a, b, shape, dtype, layout):
    key_a, key_b = _two_keys(key, layout)
    a = broadcast_to(_as(a, dtype), shape)
    b = broadcast_to(_as(b, dtype), shape)
    log_a = _gamma(key_a, a, shape, dtype, layout, True)
    log_b = _gamma(key_b, b, shape, dtype, layout, True)
    log_max = lax.max(log_a, log_b)
    scaled_a = uf.exp(uf.subtract(log_a, log_max))
    scaled_b = uf.exp(uf.subtract(log_b, log_max))
    return uf.divide(scaled_a, uf.add(scaled_a, scaled_b))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) vectors along alpha's last axis: the softmax of log-gamma draws.
    `shape` is the batch shape, without that last axis."""
    key, layout = _key_and_layout("dirichlet", key)
    dtype = _float_dtype("dirichlet", dtype)
    if np.ndim(alpha) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == "
                         f"{np.ndim(alpha)}")
    if shape is None:
        shape = np.shape(alpha)[:-1]
    else:
        shape = canonical_shape("dirichlet", shape)
        check_shape("dirichlet", shape, np.shape(alpha)[:-1])
    return _dirichlet(key, alpha, tuple(shape), dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _dirichlet(key, alpha, shape, dtype, layout):
    full = shape + core.get_aval(alpha).shape[-1:]
    log_gammas = _gamma(key, _as(alpha, dtype), full, dtype, layout, True)
    return softmax(log_gammas, -1)


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square values with df degrees of freedom: 2 * Gamma(df / 2)."""
    key, shape, dtype, layout = _checked("chisquare", key, shape, dtype, df)
    return _chisquare(key, df, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _chisquare(key, df, shape, dtype, layout):
    df = _as(df, dtype)
    two = lax.full(core.get_aval(df).shape, np.asarray(2, dtype), dtype)
    half_df = lax.div(df, two)
    log_g = _gamma(key, broadcast_to(half_df, shape), shape, dtype, layout, True)
    return uf.multiply(uf.exp(log_g), np.asarray(2, dtype))


def f(key, dfnum, dfden, shape=None, dtype=None):
    """F-distributed values: (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
    key, shape, dtype, layout = _checked("f", key, shape, dtype, dfnum, dfden)
    return _f(key, dfnum, dfden, shape, dtype, layout)


@partial(jit, static_argnums=(3, 4, 5))
def _f(key, dfnum, dfden, shape, dtype, layout):
    dfden, dfnum = _as(dfden, dtype), _as(dfnum, dtype)
    key_den, key_num = _two_keys(key, layout)
    num = uf.divide(_chisquare(key_num, dfnum, shape, dtype, layout), dfnum)
    den = uf.divide(_chisquare(key_den, dfden, shape, dtype, layout), dfden)
    return uf.divide(num, den)


def t(key, df, shape=None, dtype=None):
    """Student's t values: z * sqrt((df / 2) / Gamma(df / 2)) for z standard normal."""
    key, shape, dtype, layout = _checked("t", key, shape, dtype, df)
    return _t(key, df, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _t(key, df, shape, dtype, layout):
    df = _as(df, dtype)
    key_n, key_g = _two_keys(key, layout)
    n = _normal_real(key_n, shape, dtype, layout)
    half_df = lax.div(df, lax.full(core.get_aval(df).shape, np.asarray(2, dtype), dtype))
    g = _gamma(key_g, broadcast_to(half_df, shape), shape, dtype, layout, False)
    return uf.multiply(n, uf.sqrt(uf.divide(half_df, g)))


def generalized_normal(key, p, shape=(), dtype=None):
    """Values with density proportional to exp(-|x|^p): a random sign times
    Gamma(1/p) ** (1/p)."""
    key, layout = _key_and_layout("generalized_normal", key)
    dtype = _float_dtype("generalized_normal", dtype)
    shape = canonical_shape("generalized_normal", shape)
    return _generalized_normal(key, p, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _generalized_normal(key, p, shape, dtype, layout):
    key_g, key_r = _two_keys(key, layout)
    inv_p = uf.divide(1, p)
    g = _gamma(key_g, broadcast_to(_as(inv_p, dtype), shape), shape, dtype, layout, False)
    r = _rademacher(key_r, shape, dtype, layout)
    return uf.multiply(r, uf.power(g, uf.divide(1, p)))


def ball(key, d, p=2, shape=(), dtype=None):
    """Points uniform in the unit Lp ball of dimension d, shape `shape + (d,)`: generalized
    normals divided by (their Lp norm^p plus an exponential draw) ** (1/p)."""
    key, layout = _key_and_layout("ball", key)
    dtype = _float_dtype("ball", dtype)
    shape = canonical_shape("ball", shape)
    if not isinstance(d, (int, np.integer)) or d < 0:
        raise TypeError(f"ball: d must be a non-negative int (the dimension), got {d!r}")
    return _ball(key, p, int(d), shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4, 5))
def _ball(key, p, d, shape, dtype, layout):
    k1, k2 = _two_keys(key, layout)
    g = _generalized_normal(k1, p, (*shape, d), dtype, layout)
    e = _exponential(k2, shape, dtype, layout)
    radius = uf.power(uf.add(_sum(uf.power(uf.abs(g), p), axis=-1), e), uf.divide(1, p))
    return uf.divide(g, lax.expand_dims(radius, (len(shape),)))
