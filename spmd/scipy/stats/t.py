"""Student's t distribution, as jax.scipy.stats.t."""
from __future__ import annotations

import math

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote, standardize

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
    """lgamma((df+1)/2) - lgamma(df/2) - log(pi df scale^2)/2 - (df+1)/2 log(1 + z^2/df)."""
    x, df, loc, scale = promote("t.logpdf", x, df, loc, scale)
    z = standardize(x, loc, scale)
    half_df = jnp.multiply(0.5, df)
    half_df_plus = jnp.add(half_df, 0.5)
    normalizer = jnp.add(jnp.subtract(special.gammaln(half_df), special.gammaln(half_df_plus)),
                         jnp.multiply(0.5, jnp.log(jnp.multiply(math.pi * 1.0, jnp.multiply(
                             df, jnp.square(scale))))))
    return jnp.negative(jnp.add(normalizer, jnp.multiply(half_df_plus, jnp.log1p(
        jnp.divide(jnp.square(z), df)))))


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))
