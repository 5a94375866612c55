"""Kummer's confluent hypergeometric function 1F1(a; b; x) = sum_k (a)_k / (b)_k x^k / k!, by
its series for x >= 0 and Kummer's transformation 1F1(a; b; x) = e^x 1F1(b - a; b; -x) for
x < 0 (the series of a positive argument, free of cancellation when b > a > 0). The series
runs a fixed number of terms in a fori_loop, so it is differentiable in a, b and x; like JAX's,
it is meant for positive a and b and moderate |x| (the terms peak near k = x a / b)."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms import lax

_TERMS = 400


def _series(a, b, x):
    def body(k, carry):
        term, total = carry
        k = k.astype(x.dtype)
        term = jnp.multiply(term, jnp.divide(jnp.multiply(jnp.add(a, k), x),
                                             jnp.multiply(jnp.add(b, k), jnp.add(k, 1))))
        return term, jnp.add(total, term)
    return lax.fori_loop(0, _TERMS, body, (jnp.ones_like(x), jnp.ones_like(x)))[1]


def hyp1f1(a, b, x):
    """The confluent hypergeometric function 1F1(a; b; x); 1 where a == 0 (also at b == 0, as
    in JAX), exp(x) where a == b, inf where b == 0 and a != 0."""
    a, b, x = _real("hyp1f1", a, b, x)
    a, b, x = jnp.broadcast_arrays(a, b, x)
    # the series itself gives 1 at a == 0 and e^x at a == b, with the right slopes in a and b
    negative = jnp.less(x, 0)
    b_zero = jnp.equal(b, 0)
    safe_b = jnp.where(b_zero, 1, b)
    upper = jnp.where(negative, jnp.subtract(safe_b, a), a)
    value = _series(upper, safe_b, jnp.abs(x))
    value = jnp.where(negative, jnp.multiply(jnp.exp(x), value), value)
    value = jnp.where(b_zero, np.inf, value)
    return jnp.where(jnp.logical_and(jnp.equal(a, 0), b_zero), 1, value).astype(x.dtype)
