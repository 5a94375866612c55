"""The von Mises distribution on the circle, as jax.scipy.stats.vonmises: density
e^(kappa cos x) / (2 pi I0(kappa)); NaN for kappa <= 0."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy import special
from spmd.scipy.stats._common import promote

__all__ = ["logpdf", "pdf"]


def logpdf(x, kappa):
    """kappa (cos x - 1) - log(2 pi i0e(kappa)): I0 scaled by e^-kappa does not overflow."""
    x, kappa = promote("vonmises.logpdf", x, kappa)
    log_probs = jnp.subtract(jnp.multiply(kappa, jnp.subtract(jnp.cos(x), 1)),
                             jnp.log(jnp.multiply(2 * np.pi, special.i0e(kappa))))
    return jnp.where(jnp.greater(kappa, 0), log_probs, np.nan)


def pdf(x, kappa):
    return jnp.exp(logpdf(x, kappa))
