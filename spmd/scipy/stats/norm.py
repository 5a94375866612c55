"""The normal distribution N(loc, scale^2), as jax.scipy.stats.norm."""
from __future__ import annotations

import math

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote, standardize
from spmd.transforms import dtypes

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return jnp.subtract(jnp.multiply(-0.5, jnp.square(z)),
                        jnp.add(jnp.log(scale), 0.5 * math.log(2 * math.pi)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.cdf", x, loc, scale)
    return special.ndtr(standardize(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logcdf", x, loc, scale)
    return special.log_ndtr(standardize(x, loc, scale))


def sf(x, loc=0, scale=1):
    """1 - cdf, accurate in the upper tail (the cdf of the mirrored point)."""
    x, loc, scale = promote("norm.sf", x, loc, scale)
    return special.ndtr(jnp.negative(standardize(x, loc, scale)))


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logsf", x, loc, scale)
    return special.log_ndtr(jnp.negative(standardize(x, loc, scale)))


def ppf(q, loc=0, scale=1):
    """The quantile: the inverse of cdf, in the default float dtype (as JAX)."""
    q, loc, scale = promote("norm.ppf", q, loc, scale)
    return jnp.add(jnp.multiply(special.ndtri(q), scale), loc).astype(dtypes.default_float())


def isf(q, loc=0, scale=1):
    """The inverse of sf."""
    q, loc, scale = promote("norm.isf", q, loc, scale)
    return ppf(jnp.subtract(1, q), loc, scale)
