"""The scaled complementary error function erfcx(x) = exp(x^2) erfc(x): the product itself up
to x = 9 (with x^2 split so that exp sees an exact square), the asymptotic series above it,
where erfc underflows in float32."""
from __future__ import annotations

import math

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.scipy._ndtr import erfc
from spmd.transforms import lax
from spmd.transforms.custom_derivatives import custom_jvp

_ASYMPTOTIC_FROM = 9.0
_ASYMPTOTIC_TERMS = 20  # (2k - 1)!! / (2 x^2)^k < 1e-20 at k = 20 for x >= 9


def _exp_of_square(x):
    """exp(x^2) without the rounding error of x^2: x = hi + lo with hi on a 1/16 grid, so hi^2
    is exact (|x| <= 9) and only the small 2 hi lo + lo^2 is rounded."""
    hi = jnp.divide(jnp.floor(jnp.multiply(x, 16)), 16)
    lo = jnp.subtract(x, hi)
    rest = jnp.multiply(lo, jnp.add(jnp.multiply(hi, 2), lo))
    return jnp.multiply(jnp.exp(jnp.square(hi)), jnp.exp(rest))


def _asymptotic(x):
    """1 / (x sqrt(pi)) sum_k (-1)^k (2k - 1)!! / (2 x^2)^k."""
    inv = jnp.divide(1, jnp.multiply(jnp.square(x), 2))

    def body(k, carry):
        term, total = carry
        term = jnp.multiply(term, jnp.negative(jnp.multiply(jnp.subtract(
            jnp.multiply(k.astype(x.dtype), 2), 1), inv)))
        return term, jnp.add(total, term)
    total = lax.fori_loop(1, _ASYMPTOTIC_TERMS, body, (jnp.ones_like(x), jnp.ones_like(x)))[1]
    return jnp.divide(total, jnp.multiply(x, math.sqrt(math.pi)))


@custom_jvp
def _erfcx(x):
    large = jnp.greater(x, _ASYMPTOTIC_FROM)
    direct = jnp.where(large, 0.0, x)
    product = jnp.multiply(_exp_of_square(direct), erfc(direct))
    return jnp.where(large, _asymptotic(jnp.where(large, x, _ASYMPTOTIC_FROM)), product)


@_erfcx.defjvp
def _erfcx_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    out = _erfcx(x)
    slope = jnp.subtract(jnp.multiply(jnp.multiply(x, 2), out), 2 / math.sqrt(math.pi))
    return out, jnp.multiply(tx, slope)


def erfcx(x):
    """The scaled complementary error function exp(x^2) erfc(x); inf where it overflows."""
    (x,) = promote_to_inexact("erfcx", x)
    return _erfcx(x)
