"""The Dirichlet distribution, as jax.scipy.stats.dirichlet: x (first axis: the K components, or
K - 1 with the last implied) on the simplex, density prod x_i^(alpha_i - 1) / B(alpha)."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.numpy._core import promote_dtypes_inexact

__all__ = ["logpdf", "pdf"]

_SIMPLEX_TOLERANCE = 1e-6  # how far from 1 the components' sum may be


def logpdf(x, alpha):
    x, alpha = promote_dtypes_inexact("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError("`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] != alpha.shape[0]:
        x = jnp.concatenate([x, jnp.subtract(1, jnp.sum(x, axis=0, keepdims=True))], axis=0)
    log_beta = jnp.subtract(jnp.sum(special.gammaln(alpha)), special.gammaln(jnp.sum(alpha)))
    alpha = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
    log_probs = jnp.subtract(jnp.sum(special.xlogy(jnp.subtract(alpha, 1), x), axis=0), log_beta)
    on_simplex = jnp.logical_and(
        jnp.all(jnp.greater(x, 0), axis=0),
        jnp.less(jnp.abs(jnp.subtract(jnp.sum(x, axis=0), 1)), _SIMPLEX_TOLERANCE))
    return jnp.where(on_simplex, log_probs, -np.inf)


def pdf(x, alpha):
    return jnp.exp(logpdf(x, alpha))
