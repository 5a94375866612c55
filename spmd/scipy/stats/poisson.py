"""The Poisson distribution, as jax.scipy.stats.poisson."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf", "cdf", "entropy"]


def logpmf(k, mu, loc=0):
    """k log mu - log k! - mu for integer k - loc >= 0, -inf elsewhere."""
    k, mu, loc = promote("poisson.logpmf", k, mu, loc)
    x = jnp.subtract(k, loc)
    log_probs = jnp.subtract(jnp.subtract(special.xlogy(x, mu), special.gammaln(jnp.add(x, 1))),
                             mu)
    off_support = jnp.logical_or(jnp.less(x, 0), jnp.not_equal(jnp.round(k), k))
    return jnp.where(off_support, -np.inf, log_probs)


def pmf(k, mu, loc=0):
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """P(K <= k) = Q(floor(k - loc) + 1, mu), the upper regularized incomplete gamma."""
    k, mu, loc = promote("poisson.cdf", k, mu, loc)
    x = jnp.subtract(k, loc)
    return jnp.where(jnp.less(x, 0), 0,
                     special.gammaincc(jnp.floor(jnp.add(jnp.maximum(x, 0), 1)), mu))


_ENTROPY_TERMS = 250  # P(K >= 250) is below 1e-30 for mu < 100


def entropy(mu, loc=0):
    """-sum_k pmf(k) log pmf(k): the sum itself for mu < 100, past that the asymptotic
    log(2 pi e mu) / 2 - 1 / (12 mu); 0 for mu == 0. (loc shifts the support, not the
    entropy; it only broadcasts.)"""
    mu, loc = promote("poisson.entropy", mu, loc)
    small = jnp.less(mu, 100)
    safe_mu = jnp.where(jnp.logical_and(small, jnp.greater(mu, 0)), mu, 1)
    k = jnp.arange(_ENTROPY_TERMS, dtype=mu.dtype).reshape((-1,) + (1,) * mu.ndim)
    log_p = logpmf(k, safe_mu)
    total = jnp.negative(jnp.sum(jnp.multiply(jnp.exp(log_p), log_p), axis=0))
    big_mu = jnp.where(small, 100, mu)
    asymptotic = jnp.subtract(jnp.multiply(0.5, jnp.log(jnp.multiply(2 * np.pi * np.e, big_mu))),
                              jnp.divide(1, jnp.multiply(12, big_mu)))
    return jnp.where(jnp.equal(mu, 0), 0, jnp.where(small, total, asymptotic))
