"""The Poisson distribution, as jax.scipy.stats.poisson."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote


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
