"""The generalized normal distribution with shape beta, as jax.scipy.stats.gennorm: density
beta / (2 Gamma(1 / beta)) e^(-|x|^beta) (beta = 2: a normal of variance 1/2; 1: Laplace)."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpdf", "pdf", "cdf"]


def logpdf(x, beta):
    x, beta = promote("gennorm.logpdf", x, beta)
    return jnp.subtract(jnp.subtract(jnp.log(jnp.multiply(0.5, beta)),
                                     special.gammaln(jnp.divide(1, beta))),
                        jnp.power(jnp.abs(x), beta))


def pdf(x, beta):
    return jnp.exp(logpdf(x, beta))


def cdf(x, beta):
    """(1 + sign(x) P(1 / beta, |x|^beta)) / 2, P the regularized lower incomplete gamma."""
    x, beta = promote("gennorm.cdf", x, beta)
    mass = special.gammainc(jnp.divide(1, beta), jnp.power(jnp.abs(x), beta))
    return jnp.multiply(0.5, jnp.add(1, jnp.multiply(jnp.sign(x), mass)))
