"""The left-skewed Gumbel distribution, as jax.scipy.stats.gumbel_l: sf e^(-e^z) for
z = (x - loc) / scale; NaN where scale <= 0."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._gumbel import quantile_ok, standardized, valid

__all__ = ["logpdf", "pdf", "logcdf", "cdf", "ppf", "sf", "logsf"]


def logpdf(x, loc=0, scale=1):
    z, ok, scale = standardized("gumbel_l.logpdf", x, loc, scale)
    return valid(ok, jnp.subtract(jnp.subtract(z, jnp.exp(z)), jnp.log(scale)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    """log(1 - e^(-e^z)) as log(-expm1(-e^z)): accurate in the left tail."""
    z, ok, _ = standardized("gumbel_l.logcdf", x, loc, scale)
    return valid(ok, jnp.log(jnp.negative(jnp.expm1(jnp.negative(jnp.exp(z))))))


def cdf(x, loc=0, scale=1):
    return jnp.exp(logcdf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    z, ok, _ = standardized("gumbel_l.logsf", x, loc, scale)
    return valid(ok, jnp.negative(jnp.exp(z)))


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    """loc + scale log(-log(1 - p)), NaN outside (0, 1)."""
    p, loc, scale, ok = quantile_ok("gumbel_l.ppf", p, loc, scale)
    inner = jnp.negative(jnp.log1p(jnp.negative(p)))
    return jnp.where(ok, jnp.add(loc, jnp.multiply(scale, jnp.log(inner))), np.nan)
