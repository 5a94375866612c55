"""The regularized incomplete gamma and beta functions (gammainc, gammaincc, betainc) and betaln:
lax's igamma, igammac and regularized_incomplete_beta primitives (transforms/lax/
incomplete_gamma.py, incomplete_beta.py) after NumPy's promotion and broadcasting."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.transforms import lax


def _prepared(name, *args):
    args = promote_to_inexact(name, *args)
    return jnp.broadcast_arrays(*args)


# ---------------------------------------------------------------- incomplete gamma
def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a)."""
    return lax.igamma(*_prepared("gammainc", a, x))


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), accurate where it
    is small (computed directly, not as 1 - P)."""
    return lax.igammac(*_prepared("gammaincc", a, x))


# ---------------------------------------------------------------- incomplete beta
def betaln(a, b):
    """log |B(a, b)| = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    a, b = promote_to_inexact("betaln", a, b)
    return jnp.subtract(jnp.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(jnp.add(a, b)))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    return lax.betainc(*_prepared("betainc", a, b, x))
