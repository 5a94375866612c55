"""The negative binomial distribution (failures before the n-th success), as
jax.scipy.stats.nbinom: pmf Gamma(y + n) / (Gamma(n) y!) p^n (1 - p)^y for y = k - loc >= 0."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("nbinom.logpmf", k, n, p, loc)
    y = jnp.subtract(k, loc)
    log_choose = jnp.subtract(jnp.subtract(special.gammaln(jnp.add(y, n)), special.gammaln(n)),
                              special.gammaln(jnp.add(y, 1)))
    log_powers = jnp.add(special.xlogy(n, p), special.xlogy(y, jnp.subtract(1, p)))
    return jnp.where(jnp.less(k, loc), -np.inf, jnp.add(log_choose, log_powers))


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
