"""The Cauchy distribution, as jax.scipy.stats.cauchy."""
from __future__ import annotations

import math

import spmd.numpy as jnp
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return jnp.negative(jnp.add(jnp.log(jnp.multiply(math.pi, scale)), jnp.log1p(jnp.square(z))))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.cdf", x, loc, scale)
    return jnp.add(0.5, jnp.divide(jnp.arctan(standardize(x, loc, scale)), math.pi))


def logcdf(x, loc=0, scale=1):
    return jnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.sf", x, loc, scale)
    return cdf(jnp.negative(x), jnp.negative(loc), scale)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.logsf", x, loc, scale)
    return logcdf(jnp.negative(x), jnp.negative(loc), scale)


def ppf(q, loc=0, scale=1):
    """loc + scale tan(pi (q - 1/2))."""
    q, loc, scale = promote("cauchy.ppf", q, loc, scale)
    return jnp.add(jnp.multiply(jnp.tan(jnp.subtract(jnp.multiply(math.pi, q), math.pi / 2)),
                                scale), loc)


def isf(q, loc=0, scale=1):
    q, loc, scale = promote("cauchy.isf", q, loc, scale)
    return jnp.add(jnp.multiply(jnp.tan(jnp.subtract(math.pi / 2, jnp.multiply(math.pi, q))),
                                scale), loc)
