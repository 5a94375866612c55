"""The normal distribution truncated to [a, b] (in standardized units), as
jax.scipy.stats.truncnorm; NaN where a >= b. The normal mass between two points is computed in
logs from the nearer tail, so that far tails keep their digits."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats import norm
from spmd.scipy.stats._common import log1mexp, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _log_diff(big, small):
    """log(e^big - e^small) for big >= small."""
    gap = jnp.where(jnp.isneginf(small), np.inf, jnp.subtract(big, small))
    return jnp.add(big, log1mexp(gap))


def _log_gauss_mass(a, b):
    """log(Phi(b) - Phi(a)): from the left tail when b <= 0, the right when a > 0 (mirrored),
    else as log(1 - Phi(a) - Phi(-b))."""
    a, b = jnp.broadcast_arrays(a, b)
    right = jnp.greater(a, 0)
    tail_a = jnp.where(right, jnp.negative(b), a)
    tail_b = jnp.where(right, jnp.negative(a), b)
    tail = _log_diff(special.log_ndtr(tail_b), special.log_ndtr(tail_a))
    central = jnp.log1p(jnp.negative(jnp.add(special.ndtr(a), special.ndtr(jnp.negative(b)))))
    is_central = jnp.logical_not(jnp.logical_or(jnp.less_equal(b, 0), right))
    return jnp.where(is_central, central, tail)


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logpdf", x, a, b, loc, scale)
    log_probs = jnp.subtract(norm.logpdf(x, loc, scale), _log_gauss_mass(a, b))
    z = standardize(x, loc, scale)
    log_probs = jnp.where(jnp.logical_or(jnp.less(z, a), jnp.greater(z, b)), -np.inf, log_probs)
    return jnp.where(jnp.greater_equal(a, b), np.nan, log_probs)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logcdf", x, a, b, loc, scale)
    z, a, b = jnp.broadcast_arrays(standardize(x, loc, scale), a, b)
    total = _log_gauss_mass(a, b)
    below = jnp.subtract(_log_gauss_mass(a, z), total)
    above = jnp.subtract(_log_gauss_mass(z, b), total)
    # near 1 the cdf is better as 1 - sf
    out = jnp.select([jnp.greater_equal(z, b), jnp.less_equal(z, a), jnp.greater(below, -0.1)],
                     [0., -np.inf, jnp.log1p(jnp.negative(jnp.exp(above)))], below)
    return jnp.where(jnp.greater_equal(a, b), np.nan, out)


def cdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    """The cdf of the mirrored distribution at -x."""
    x, a, b, loc, scale = promote("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(jnp.negative(x), jnp.negative(b), jnp.negative(a), jnp.negative(loc), scale)


def sf(x, a, b, loc=0, scale=1):
    return jnp.exp(logsf(x, a, b, loc, scale))
