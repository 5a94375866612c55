"""The chi-squared distribution with df degrees of freedom, as jax.scipy.stats.chi2: a gamma
distribution of shape df / 2 and scale 2 (times `scale`)."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, df, loc=0, scale=1):
    """(df/2 - 1) log y - y/2 - log Gamma(df/2) - (df/2) log 2 - log scale, for
    y = (x - loc) / scale."""
    x, df, loc, scale = promote("chi2.logpdf", x, df, loc, scale)
    y = standardize(x, loc, scale)
    half_df = jnp.divide(df, 2)
    kernel = jnp.subtract(jnp.multiply(jnp.subtract(half_df, 1), jnp.log(y)), jnp.divide(y, 2))
    norm = jnp.add(special.gammaln(half_df), jnp.multiply(half_df, np.log(2)))
    log_probs = jnp.subtract(jnp.subtract(kernel, norm), jnp.log(scale))
    return jnp.where(jnp.less(x, loc), -np.inf, log_probs)


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))


def _half_y(name, x, df, loc, scale):
    x, df, loc, scale = promote(name, x, df, loc, scale)
    return jnp.divide(df, 2), jnp.clip(jnp.divide(standardize(x, loc, scale), 2), 0, np.inf)


def cdf(x, df, loc=0, scale=1):
    return special.gammainc(*_half_y("chi2.cdf", x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    return special.gammaincc(*_half_y("chi2.sf", x, df, loc, scale))


def logcdf(x, df, loc=0, scale=1):
    return jnp.log(cdf(x, df, loc, scale))


def logsf(x, df, loc=0, scale=1):
    return jnp.log(sf(x, df, loc, scale))
