"""The right-skewed Gumbel distribution, as jax.scipy.stats.gumbel_r: cdf e^(-e^(-z)) for
z = (x - loc) / scale; NaN where scale <= 0."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import log1mexp
from spmd.scipy.stats._gumbel import quantile_ok, standardized, valid

__all__ = ["logpdf", "pdf", "logcdf", "cdf", "ppf", "sf", "logsf"]


def logpdf(x, loc=0, scale=1):
    z, ok, scale = standardized("gumbel_r.logpdf", x, loc, scale)
    return valid(ok, jnp.subtract(jnp.negative(jnp.add(z, jnp.exp(jnp.negative(z)))),
                                  jnp.log(scale)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    z, ok, _ = standardized("gumbel_r.logcdf", x, loc, scale)
    return valid(ok, jnp.negative(jnp.exp(jnp.negative(z))))


def cdf(x, loc=0, scale=1):
    return jnp.exp(logcdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    """1 - e^(-e^(-z)) as -expm1(-e^(-z)): accurate in the right tail."""
    z, ok, _ = standardized("gumbel_r.sf", x, loc, scale)
    return valid(ok, jnp.negative(jnp.expm1(jnp.negative(jnp.exp(jnp.negative(z))))))


def logsf(x, loc=0, scale=1):
    z, ok, _ = standardized("gumbel_r.logsf", x, loc, scale)
    return valid(ok, log1mexp(jnp.exp(jnp.negative(z))))


def ppf(p, loc=0, scale=1):
    """loc - scale log(-log p), NaN outside (0, 1)."""
    p, loc, scale, ok = quantile_ok("gumbel_r.ppf", p, loc, scale)
    return jnp.where(ok, jnp.subtract(loc, jnp.multiply(scale, jnp.log(jnp.negative(jnp.log(p))))),
                     np.nan)
