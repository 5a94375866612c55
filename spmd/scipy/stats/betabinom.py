"""The beta-binomial distribution, as jax.scipy.stats.betabinom: pmf
C(n, y) B(y + a, n - y + b) / B(a, b) for y = floor(k) - loc in [0, n]; NaN for n < 0, a <= 0 or
b <= 0."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = promote("betabinom.logpmf", k, n, a, b, loc)
    y = jnp.subtract(jnp.floor(k), loc)
    n_minus_y = jnp.subtract(n, y)
    # log C(n, y) = -log(n + 1) - log B(n - y + 1, y + 1)
    log_choose = jnp.negative(jnp.add(jnp.log1p(n), special.betaln(jnp.add(n_minus_y, 1),
                                                                   jnp.add(y, 1))))
    log_beta_ratio = jnp.subtract(special.betaln(jnp.add(y, a), jnp.add(n_minus_y, b)),
                                  special.betaln(a, b))
    log_probs = jnp.add(log_choose, log_beta_ratio)
    log_probs = jnp.where(jnp.logical_and(jnp.equal(y, 0), jnp.equal(n, 0)), 0., log_probs)
    off_support = jnp.logical_or(jnp.logical_or(jnp.less(y, jnp.negative(loc)),
                                                jnp.greater(y, n)),
                                 jnp.less_equal(jnp.add(y, a), 0))
    log_probs = jnp.where(off_support, -np.inf, log_probs)
    bad = jnp.logical_or(jnp.less(n, 0), jnp.logical_or(jnp.less_equal(a, 0),
                                                        jnp.less_equal(b, 0)))
    return jnp.where(bad, np.nan, log_probs)


def pmf(k, n, a, b, loc=0):
    return jnp.exp(logpmf(k, n, a, b, loc))
