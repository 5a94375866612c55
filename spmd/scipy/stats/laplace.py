"""The Laplace (double exponential) distribution, as jax.scipy.stats.laplace."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("laplace.logpdf", x, loc, scale)
    return jnp.negative(jnp.add(jnp.abs(standardize(x, loc, scale)),
                                jnp.log(jnp.multiply(2, scale))))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """e^z / 2 below loc, 1 - e^-z / 2 above (each branch fed only its own side)."""
    x, loc, scale = promote("laplace.cdf", x, loc, scale)
    z = standardize(x, loc, scale)
    below = jnp.less_equal(z, 0)
    return jnp.where(below, jnp.multiply(0.5, jnp.exp(jnp.minimum(z, 0))),
                     jnp.subtract(1, jnp.multiply(0.5, jnp.exp(jnp.negative(jnp.maximum(z, 0))))))
