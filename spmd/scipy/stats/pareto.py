"""The Pareto distribution with shape b, as jax.scipy.stats.pareto: density b / y^(b + 1) / scale
for y = (x - loc) / scale >= 1."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import nan_outside_unit, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _prepare(name, x, b, loc, scale):
    x, b, loc, scale = promote(name, x, b, loc, scale)
    below = jnp.less(x, jnp.add(loc, scale))  # y < 1: off the support
    return standardize(x, loc, scale), b, scale, below


def logpdf(x, b, loc=0, scale=1):
    y, b, scale, below = _prepare("pareto.logpdf", x, b, loc, scale)
    log_probs = jnp.negative(jnp.add(jnp.log(jnp.divide(scale, b)),
                                     jnp.multiply(jnp.add(b, 1), jnp.log(y))))
    return jnp.where(below, -np.inf, log_probs)


def pdf(x, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    y, b, _, below = _prepare("pareto.cdf", x, b, loc, scale)
    return jnp.where(below, 0, jnp.subtract(1, jnp.power(y, jnp.negative(b))))


def logcdf(x, b, loc=0, scale=1):
    y, b, _, below = _prepare("pareto.logcdf", x, b, loc, scale)
    return jnp.where(below, -np.inf, jnp.log1p(jnp.negative(jnp.power(y, jnp.negative(b)))))


def logsf(x, b, loc=0, scale=1):
    y, b, _, below = _prepare("pareto.logsf", x, b, loc, scale)
    return jnp.where(below, 0, jnp.negative(jnp.multiply(b, jnp.log(y))))


def sf(x, b, loc=0, scale=1):
    return jnp.exp(logsf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote("pareto.ppf", q, b, loc, scale)
    y = jnp.power(jnp.subtract(1, q), jnp.negative(jnp.divide(1, b)))
    return nan_outside_unit(q, jnp.add(loc, jnp.multiply(scale, y)))
