"""Dawson's integral D(x) = exp(-x^2) * integral from 0 to x of exp(t^2), an odd function: for
|x| <= 6 exp(-x^2) times the series sum_k x^(2k+1) / (k! (2k + 1)), whose terms are all positive
(no cancellation), above it the asymptotic series 1 / (2x) sum_k (2k - 1)!! / (2 x^2)^k."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.scipy._erfcx import _exp_of_square
from spmd.transforms import lax
from spmd.transforms.custom_derivatives import custom_jvp

_ASYMPTOTIC_FROM = 6.0
_SERIES_TERMS = 120  # the terms peak near k = x^2 = 36 and are < 1e-17 of the sum by k = 120
_ASYMPTOTIC_TERMS = 30  # (2k - 1)!! / 72^k < 1e-15 at k = 30


def _series(x):
    x2 = jnp.square(x)

    def body(k, carry):
        power, total = carry
        k = k.astype(x.dtype)
        power = jnp.multiply(power, jnp.divide(x2, k))  # x^(2k+1) / k!
        return power, jnp.add(total, jnp.divide(power, jnp.add(jnp.multiply(k, 2), 1)))
    total = lax.fori_loop(1, _SERIES_TERMS, body, (x, x))[1]
    return jnp.divide(total, _exp_of_square(x))


def _asymptotic(x):
    inv = jnp.divide(1, jnp.multiply(jnp.square(x), 2))

    def body(k, carry):
        term, total = carry
        term = jnp.multiply(term, jnp.multiply(jnp.subtract(jnp.multiply(k.astype(x.dtype), 2),
                                                            1), inv))
        return term, jnp.add(total, term)
    total = lax.fori_loop(1, _ASYMPTOTIC_TERMS, body, (jnp.ones_like(x), jnp.ones_like(x)))[1]
    return jnp.divide(total, jnp.multiply(x, 2))


@custom_jvp
def _dawsn(x):
    ax = jnp.abs(x)
    large = jnp.greater(ax, _ASYMPTOTIC_FROM)
    out = jnp.where(large, _asymptotic(jnp.where(large, ax, _ASYMPTOTIC_FROM)),
                    _series(jnp.where(large, 0.0, ax)))
    return jnp.multiply(jnp.sign(x), out)


@_dawsn.defjvp
def _dawsn_jvp(primals, tangents):
    # D'(x) = 1 - 2 x D(x)
    (x,), (tx,) = primals, tangents
    out = _dawsn(x)
    return out, jnp.multiply(tx, jnp.subtract(1, jnp.multiply(jnp.multiply(x, 2), out)))


def dawsn(x):
    """Dawson's integral exp(-x^2) * integral from 0 to x of exp(t^2) dt."""
    (x,) = promote_to_inexact("dawsn", x)
    return _dawsn(x)
