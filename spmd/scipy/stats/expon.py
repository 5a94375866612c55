"""The exponential distribution, as jax.scipy.stats.expon: density e^(-(x - loc) / scale) / scale
for x >= loc."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import nan_outside_unit, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logpdf", x, loc, scale)
    log_probs = jnp.negative(jnp.add(standardize(x, loc, scale), jnp.log(scale)))
    return jnp.where(jnp.less(x, loc), -np.inf, log_probs)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logsf", x, loc, scale)
    z = standardize(x, loc, scale)
    return jnp.where(jnp.less(x, loc), jnp.zeros_like(z), jnp.negative(z))


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """1 - e^(-z) as -expm1(-z): exact for small z."""
    x, loc, scale = promote("expon.cdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return jnp.where(jnp.less(x, loc), jnp.zeros_like(z), jnp.negative(jnp.expm1(jnp.negative(z))))


def logcdf(x, loc=0, scale=1):
    return jnp.log1p(jnp.negative(sf(x, loc, scale)))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    return nan_outside_unit(q, jnp.subtract(loc, jnp.multiply(scale, jnp.log1p(jnp.negative(q)))))
