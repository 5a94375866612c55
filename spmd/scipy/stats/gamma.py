"""The gamma distribution with shape a, as jax.scipy.stats.gamma."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, a, loc=0, scale=1):
    """(a-1) log y - y - lgamma(a) - log scale, y = (x - loc) / scale; -inf below loc."""
    x, a, loc, scale = promote("gamma.logpdf", x, a, loc, scale)
    inside = jnp.greater_equal(x, loc)
    y = jnp.where(inside, standardize(x, loc, scale), 1)
    log_probs = jnp.subtract(jnp.subtract(special.xlogy(jnp.subtract(a, 1), y), y),
                             jnp.add(special.gammaln(a), jnp.log(scale)))
    return jnp.where(inside, log_probs, -np.inf)


def pdf(x, a, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.cdf", x, a, loc, scale)
    return special.gammainc(a, jnp.maximum(standardize(x, loc, scale), 0))


def logcdf(x, a, loc=0, scale=1):
    return jnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    """Q(a, y), accurate where it is small; 1 below loc."""
    x, a, loc, scale = promote("gamma.sf", x, a, loc, scale)
    y = standardize(x, loc, scale)
    return jnp.where(jnp.less(y, 0), 1, special.gammaincc(a, jnp.maximum(y, 0)))


def logsf(x, a, loc=0, scale=1):
    return jnp.log(sf(x, a, loc, scale))
