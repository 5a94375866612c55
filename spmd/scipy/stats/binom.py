"""The binomial distribution, as jax.scipy.stats.binom: pmf C(n, y) p^y (1 - p)^(n - y) for
y = k - loc in [0, n] (through log-gamma, so n and y need not be whole numbers)."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("binom.logpmf", k, n, p, loc)
    y = jnp.subtract(k, loc)
    log_choose = jnp.subtract(special.gammaln(jnp.add(n, 1)),
                              jnp.add(special.gammaln(jnp.add(y, 1)),
                                      special.gammaln(jnp.add(jnp.subtract(n, y), 1))))
    log_powers = jnp.add(special.xlogy(y, p), special.xlog1py(jnp.subtract(n, y), jnp.negative(p)))
    # certain outcomes are exactly log 1 (p at 0 or 1, or no trials), as JAX has them
    certain = jnp.logical_or(jnp.logical_and(jnp.equal(y, 0), jnp.equal(n, 0)),
                             jnp.equal(log_powers, 0))
    log_probs = jnp.where(certain, 0., jnp.add(log_choose, log_powers))
    on_support = jnp.logical_and(jnp.greater_equal(k, loc), jnp.less(k, jnp.add(loc, n + 1)))
    return jnp.where(on_support, log_probs, -np.inf)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
