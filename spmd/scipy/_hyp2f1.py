"""Gauss's hypergeometric function 2F1(a, b; c; x) for real x <= 1: its series
sum_k (a)_k (b)_k / ((c)_k k!) x^k for 0 <= x < 1, Pfaff's transformation
2F1(a, b; c; x) = (1 - x)^-a 2F1(a, c - b; c; x / (x - 1)) for x < 0 (which lands in [0, 1)),
and Gauss's theorem Gamma(c) Gamma(c - a - b) / (Gamma(c - a) Gamma(c - b)) at x = 1 (for
c > a + b). The series runs a fixed number of terms in a fori_loop (differentiable in every
argument); it converges like x^k, so close to x = 1 (above about 0.95) it loses accuracy."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real, gamma
from spmd.transforms import lax

_TERMS = 800


def _series(a, b, c, x):
    def body(k, carry):
        term, total = carry
        k = k.astype(x.dtype)
        ratio = jnp.divide(jnp.multiply(jnp.multiply(jnp.add(a, k), jnp.add(b, k)), x),
                           jnp.multiply(jnp.add(c, k), jnp.add(k, 1)))
        term = jnp.multiply(term, ratio)
        return term, jnp.add(total, term)
    return lax.fori_loop(0, _TERMS, body, (jnp.ones_like(x), jnp.ones_like(x)))[1]


def hyp2f1(a, b, c, x):
    """The Gauss hypergeometric function 2F1(a, b; c; x) for real arguments and x <= 1; nan
    above 1 (where the series diverges) and at x = 1 unless c > a + b."""
    a, b, c, x = _real("hyp2f1", a, b, c, x)
    a, b, c, x = jnp.broadcast_arrays(a, b, c, x)
    negative = jnp.less(x, 0)
    safe_x = jnp.where(jnp.logical_and(jnp.greater_equal(x, -1e300), jnp.less(x, 1)), x, 0)
    pfaff_x = jnp.divide(safe_x, jnp.subtract(safe_x, 1))
    upper_b = jnp.where(negative, jnp.subtract(c, b), b)
    value = _series(a, upper_b, c, jnp.where(negative, pfaff_x, safe_x))
    value = jnp.where(negative, jnp.multiply(jnp.power(jnp.subtract(1, safe_x),
                                                       jnp.negative(a)), value), value)
    excess = jnp.subtract(jnp.subtract(c, a), b)
    at_one = jnp.divide(jnp.multiply(gamma(c), gamma(jnp.where(jnp.greater(excess, 0), excess,
                                                                1))),
                        jnp.multiply(gamma(jnp.subtract(c, a)), gamma(jnp.subtract(c, b))))
    at_one = jnp.where(jnp.greater(excess, 0), at_one, np.nan)
    value = jnp.where(jnp.equal(x, 1), at_one, value)
    return jnp.where(jnp.logical_or(jnp.greater(x, 1), jnp.isnan(x)), np.nan, value)
