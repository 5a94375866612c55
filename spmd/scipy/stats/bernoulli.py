"""The Bernoulli distribution (1 with probability p), as jax.scipy.stats.bernoulli."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import outside, promote

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


def logpmf(k, p, loc=0):
    """k log p + (1 - k) log(1 - p) for k - loc in [0, 1], -inf elsewhere."""
    k, p, loc = promote("bernoulli.logpmf", k, p, loc)
    x = jnp.subtract(k, loc)
    log_probs = jnp.add(special.xlogy(x, p), special.xlog1py(jnp.subtract(1, x), jnp.negative(p)))
    return jnp.where(outside(x, 0, 1), -np.inf, log_probs)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))


def _bad_p(p):
    return jnp.logical_or(jnp.isnan(p), outside(p, 0, 1))


def cdf(k, p):
    """0 below 0, 1 - p on [0, 1), 1 from 1 on; nan for p outside [0, 1]."""
    k, p = promote("bernoulli.cdf", k, p)
    out = jnp.where(jnp.less(k, 0), 0, jnp.where(jnp.less(k, 1), jnp.subtract(1, p), 1))
    return jnp.where(jnp.logical_or(_bad_p(p), jnp.isnan(k)), np.nan, out)


def ppf(q, p):
    """0 for q <= 1 - p, else 1; nan for q or p outside [0, 1]."""
    q, p = promote("bernoulli.ppf", q, p)
    out = jnp.where(jnp.less_equal(q, jnp.subtract(1, p)), 0, 1).astype(q.dtype)
    bad = jnp.logical_or(_bad_p(p), jnp.logical_or(jnp.isnan(q), outside(q, 0, 1)))
    return jnp.where(bad, np.nan, out)
