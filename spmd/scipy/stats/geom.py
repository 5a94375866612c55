"""The geometric distribution (trials up to the first success), as jax.scipy.stats.geom:
pmf (1 - p)^(k - 1) p for k - loc >= 1."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, p, loc=0):
    k, p, loc = promote("geom.logpmf", k, p, loc)
    x = jnp.subtract(k, loc)
    log_probs = jnp.add(special.xlog1py(jnp.subtract(x, 1), jnp.negative(p)), jnp.log(p))
    return jnp.where(jnp.less_equal(x, 0), -np.inf, log_probs)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))
