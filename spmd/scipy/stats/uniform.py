"""The uniform distribution on [loc, loc + scale], as jax.scipy.stats.uniform."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import outside, promote

__all__ = ["logpdf", "pdf", "cdf", "ppf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.logpdf", x, loc, scale)
    return jnp.where(outside(x, loc, jnp.add(loc, scale)), -np.inf,
                     jnp.negative(jnp.log(scale)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.cdf", x, loc, scale)
    return jnp.clip(jnp.divide(jnp.subtract(x, loc), scale), 0, 1)


def ppf(q, loc=0, scale=1):
    """loc + q scale for q in [0, 1], nan outside."""
    q, loc, scale = promote("uniform.ppf", q, loc, scale)
    return jnp.where(jnp.logical_or(outside(q, 0, 1), jnp.isnan(q)), np.nan,
                     jnp.add(loc, jnp.multiply(scale, q)))
