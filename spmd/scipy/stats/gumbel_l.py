"""The left-skewed Gumbel distribution, as jax.scipy.stats.gumbel_l: sf e^(-e^z) for
z = (x - loc) / scale; NaN where scale <= 0. It is gumbel_r mirrored (x -> -x, loc -> -loc), so
each function but ppf is gumbel_r's at the mirrored point."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats import gumbel_r
from spmd.scipy.stats._common import promote
from spmd.scipy.stats._gumbel import quantile_ok

__all__ = ["logpdf", "pdf", "logcdf", "cdf", "ppf", "sf", "logsf"]


def _mirrored(name, x, loc, scale):
    x, loc, scale = promote(name, x, loc, scale)
    return jnp.negative(x), jnp.negative(loc), scale


def logpdf(x, loc=0, scale=1):
    return gumbel_r.logpdf(*_mirrored("gumbel_l.logpdf", x, loc, scale))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    return gumbel_r.logsf(*_mirrored("gumbel_l.logcdf", x, loc, scale))


def cdf(x, loc=0, scale=1):
    return gumbel_r.sf(*_mirrored("gumbel_l.cdf", x, loc, scale))


def logsf(x, loc=0, scale=1):
    return gumbel_r.logcdf(*_mirrored("gumbel_l.logsf", x, loc, scale))


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    """loc + scale log(-log(1 - p)) (log1p keeps small p's digits), NaN outside (0, 1)."""
    p, loc, scale, ok = quantile_ok("gumbel_l.ppf", p, loc, scale)
    inner = jnp.negative(jnp.log1p(jnp.negative(p)))
    return jnp.where(ok, jnp.add(loc, jnp.multiply(scale, jnp.log(inner))), np.nan)
