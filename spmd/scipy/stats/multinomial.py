"""The multinomial distribution, as jax.scipy.stats.multinomial: counts x (last axis) of n
draws with probabilities p; pmf n! prod p_i^x_i / x_i!, zero where the counts do not sum to n."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(x, n, p):
    p, = promote("multinomial.logpmf", p)
    x, n = jnp.asarray(x), jnp.asarray(n)
    if not (dtypes.issubdtype(x.dtype, np.integer) and dtypes.issubdtype(n.dtype, np.integer)):
        raise ValueError(f"x and n must be of integer type; got x.dtype={x.dtype}, "
                         f"n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    terms = jnp.subtract(special.xlogy(x, p), special.gammaln(jnp.add(x, 1)))
    log_probs = jnp.add(special.gammaln(jnp.add(n, 1)), jnp.sum(terms, axis=-1))
    # per row of counts: JAX 0.10.2 sums all of x, the same for one row, -inf for a batch
    return jnp.where(jnp.equal(jnp.sum(x, axis=-1), n), log_probs, -np.inf)


def pmf(x, n, p):
    return jnp.exp(logpmf(x, n, p))
