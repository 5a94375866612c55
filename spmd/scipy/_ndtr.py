"""The standard normal's distribution function and its relatives, accurate in the tails:
erfc, ndtr, log_ndtr, ndtri.

1 - erf(x) loses every digit once erf(x) rounds to 1 (x > 3.9 in float32), so erfc's tail is
the continued fraction of the upper incomplete gamma function, erfc(x) = Q(1/2, x^2).
log_ndtr takes the asymptotic series below -10 (float32) or -20 (float64), where even ndtr
underflows, and log1p(-ndtr(-x)) above 0. ndtri starts from sqrt(2) erfinv(2p - 1), or the
tail's asymptotic inverse, and polishes with Newton steps on log ndtr(x) = log p, well
conditioned in both tails. Each has its closed-form derivative (custom_jvp), so the loops are
never differentiated."""
from __future__ import annotations

import math
from functools import partial

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.scipy._incomplete import gammaincc
from spmd.transforms import core, lax
from spmd.transforms.custom_derivatives import custom_jvp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _is_f64(x):
    return core.get_aval(x).dtype == np.float64


def erfc(x):
    """1 - erf(x), without the cancellation for large x."""
    (x,) = promote_to_inexact("erfc", x)
    return _erfc(x)


@custom_jvp
def _erfc(x):
    tail = jnp.greater(x, 1.25)  # there x^2 > a + 1 = 1.5: gammaincc's continued fraction
    return jnp.where(tail, gammaincc(0.5, jnp.square(jnp.where(tail, x, 2.0))),
                     jnp.subtract(1, lax.erf(x)))


@_erfc.defjvp
def _erfc_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _erfc(x), jnp.multiply(t, jnp.multiply(-2 / math.sqrt(math.pi),
                                                  jnp.exp(jnp.negative(jnp.square(x)))))


def ndtr(x):
    """The standard normal CDF, Phi(x) = erfc(-x / sqrt(2)) / 2."""
    (x,) = promote_to_inexact("ndtr", x)
    return jnp.multiply(0.5, _erfc(jnp.multiply(x, -1 / math.sqrt(2))))


def _log_phi(x):
    """log of the standard normal density."""
    return jnp.subtract(jnp.multiply(-0.5, jnp.square(x)), _LOG_SQRT_2PI)


def log_ndtr(x, series_order=3):
    """log Phi(x), accurate for very negative x (the asymptotic series with `series_order`
    terms) and for large x (log1p(-Phi(-x)))."""
    (x,) = promote_to_inexact("log_ndtr", x)
    if not 0 <= int(series_order) <= 30:
        raise ValueError(f"log_ndtr: series_order must be in [0, 30], got {series_order}")
    return _log_ndtr(x, int(series_order))


def _asymptotic_log_ndtr(x, series_order):
    """log Phi(x) ~ log(phi(x) / -x) + log(1 + sum_n (-1)^n (2n-1)!! / x^(2n)) for x -> -inf."""
    x2 = jnp.square(x)
    total, power, sign, double_factorial = jnp.ones_like(x), jnp.ones_like(x), 1.0, 1.0
    for n in range(1, series_order + 1):
        power = jnp.multiply(power, x2)
        sign, double_factorial = -sign, double_factorial * (2 * n - 1)
        total = jnp.add(total, jnp.divide(sign * double_factorial, power))
    return jnp.add(jnp.subtract(_log_phi(x), jnp.log(jnp.negative(x))), jnp.log(total))


@partial(custom_jvp, nondiff_argnums=(1,))
def _log_ndtr(x, series_order):
    lower = -20.0 if _is_f64(x) else -10.0
    # above 0, log1p of the (accurate) upper tail keeps the digits that log(1 - tiny) loses
    high = jnp.log1p(jnp.negative(ndtr(jnp.negative(jnp.maximum(x, 0)))))
    middle = jnp.log(ndtr(jnp.clip(x, lower, 0)))
    low = _asymptotic_log_ndtr(jnp.minimum(x, lower), series_order)
    return jnp.where(jnp.greater(x, 0), high, jnp.where(jnp.greater(x, lower), middle, low))


@_log_ndtr.defjvp
def _log_ndtr_jvp(series_order, primals, tangents):
    (x,), (t,) = primals, tangents
    y = _log_ndtr(x, series_order)
    return y, jnp.multiply(t, jnp.exp(jnp.subtract(_log_phi(x), y)))


def ndtri(p):
    """The inverse of ndtr: the x with Phi(x) = p (-inf at 0, inf at 1, nan outside [0, 1])."""
    (p,) = promote_to_inexact("ndtri", p)
    return _ndtri(p)


@custom_jvp
def _ndtri(p):
    q = jnp.minimum(p, jnp.subtract(1, p))  # the lower tail's probability; x is then <= 0
    tail = jnp.less(q, 1e-3)
    safe_q = jnp.where(jnp.logical_and(jnp.greater(q, 0), jnp.less_equal(q, 0.5)), q, 0.25)
    central = jnp.multiply(math.sqrt(2), lax.erf_inv(jnp.subtract(jnp.multiply(2, safe_q), 1)))
    big = jnp.multiply(-2, jnp.log(jnp.where(tail, safe_q, 1e-4)))
    asymptotic = jnp.negative(jnp.sqrt(jnp.subtract(jnp.subtract(big, jnp.log(big)),
                                                    2 * _LOG_SQRT_2PI)))
    x = jnp.where(tail, asymptotic, central)
    log_q = jnp.log(safe_q)
    for _ in range(4):  # Newton on log Phi(x) = log q: converges quadratically from either start
        y = _log_ndtr(x, 3)
        x = jnp.subtract(x, jnp.multiply(jnp.subtract(y, log_q), jnp.exp(jnp.subtract(
            y, _log_phi(x)))))
    x = jnp.where(jnp.greater(p, 0.5), jnp.negative(x), x)
    x = jnp.where(jnp.equal(q, 0), jnp.where(jnp.greater(p, 0.5), np.inf, -np.inf), x)
    return jnp.where(jnp.logical_or(jnp.logical_or(jnp.less(p, 0), jnp.greater(p, 1)),
                                    jnp.isnan(p)), np.nan, x)


@_ndtri.defjvp
def _ndtri_jvp(primals, tangents):
    (p,), (t,) = primals, tangents
    x = _ndtri(p)
    return x, jnp.multiply(t, jnp.exp(jnp.negative(_log_phi(x))))
