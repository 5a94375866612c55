"""The wrapped Cauchy distribution on [0, 2 pi], as jax.scipy.stats.wrapcauchy: density
(1 - c^2) / (2 pi (1 + c^2 - 2 c cos x)); NaN unless 0 < c < 1."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import outside, promote

__all__ = ["logpdf", "pdf"]


def logpdf(x, c):
    x, c = promote("wrapcauchy.logpdf", x, c)
    c2 = jnp.multiply(c, c)
    log_probs = jnp.subtract(
        jnp.subtract(jnp.log1p(jnp.negative(c2)), np.log(2 * np.pi)),
        jnp.log(jnp.subtract(jnp.add(1, c2), jnp.multiply(jnp.multiply(2, c), jnp.cos(x)))))
    log_probs = jnp.where(outside(x, 0, 2 * np.pi), -np.inf, log_probs)
    return jnp.where(jnp.logical_and(jnp.greater(c, 0), jnp.less(c, 1)), log_probs, np.nan)


def pdf(x, c):
    return jnp.exp(logpdf(x, c))
