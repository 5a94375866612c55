"""The logistic distribution, as jax.scipy.stats.logistic."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]


def logpdf(x, loc=0, scale=1):
    """-2 log(e^(z/2) + e^(-z/2)) - log(scale): symmetric and without overflow."""
    x, loc, scale = promote("logistic.logpdf", x, loc, scale)
    half = jnp.multiply(0.5, standardize(x, loc, scale))
    return jnp.subtract(jnp.multiply(-2, jnp.logaddexp(half, jnp.negative(half))), jnp.log(scale))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.cdf", x, loc, scale)
    return special.expit(standardize(x, loc, scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.sf", x, loc, scale)
    return special.expit(jnp.negative(standardize(x, loc, scale)))


def ppf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.ppf", x, loc, scale)
    return jnp.add(jnp.multiply(special.logit(x), scale), loc)


def isf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.isf", x, loc, scale)
    return jnp.subtract(loc, jnp.multiply(special.logit(x), scale))
