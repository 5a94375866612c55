"""The beta distribution on [loc, loc + scale], as jax.scipy.stats.beta."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import outside, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, a, b, loc=0, scale=1):
    """(a-1) log y + (b-1) log(1-y) - log B(a, b) - log scale, y = (x - loc) / scale; -inf
    outside the support, nan for non-positive a, b or scale."""
    x, a, b, loc, scale = promote("beta.logpdf", x, a, b, loc, scale)
    y = standardize(x, loc, scale)
    log_probs = jnp.subtract(jnp.add(special.xlogy(jnp.subtract(a, 1), y),
                                     special.xlog1py(jnp.subtract(b, 1), jnp.negative(y))),
                             jnp.add(special.betaln(a, b), jnp.log(scale)))
    out = jnp.where(outside(x, loc, jnp.add(loc, scale)), -np.inf, log_probs)
    bad = jnp.logical_or(jnp.logical_or(jnp.less_equal(a, 0), jnp.less_equal(b, 0)),
                         jnp.less_equal(scale, 0))
    return jnp.where(bad, np.nan, out)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.cdf", x, a, b, loc, scale)
    return special.betainc(a, b, jnp.clip(standardize(x, loc, scale), 0, 1))


def logcdf(x, a, b, loc=0, scale=1):
    return jnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """1 - cdf as I_(1-y)(b, a), accurate where it is small."""
    x, a, b, loc, scale = promote("beta.sf", x, a, b, loc, scale)
    return special.betainc(b, a, jnp.subtract(1, jnp.clip(standardize(x, loc, scale), 0, 1)))


def logsf(x, a, b, loc=0, scale=1):
    return jnp.log(sf(x, a, b, loc, scale))
