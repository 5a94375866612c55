"""The exponential integrals expn (E_n), exp1 (E_1) and expi (Ei), after Numerical Recipes
(sec. 6.3): E_n by its power series for x <= 1 and its continued fraction (modified Lentz) for
x > 1, Ei by its power series below 40 and its asymptotic series above. Each runs a fixed
number of terms in a fori_loop; the branch not taken is fed a harmless x. The derivatives are
the closed forms (dE_n/dx = -E_{n-1}, dEi/dx = e^x / x), not derivatives of the loops."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms import core, dtypes, lax
from spmd.transforms.custom_derivatives import custom_jvp

_EULER_GAMMA = 0.5772156649015329
_SERIES_TERMS = 40  # x <= 1: the terms fall as x^i / i!
_FRACTION_TERMS = 80  # x > 1: the continued fraction converges fastest far from 1
_EI_SERIES_TERMS = 120  # x < 40: the terms x^k / (k k!) are < 1e-16 of the sum by then
_EI_ASYMPTOTIC_TERMS = 40  # x >= 40: k! / x^k still falls at k = 40
_EI_ASYMPTOTIC_FROM = 40.0


def _expn_series(n, x):
    """E_n(x) for 0 < x <= 1 and integer n >= 1: the power series, whose term i = n - 1 holds
    the logarithm (psi(n) = -gamma + H_{n-1})."""
    nm1 = jnp.subtract(n, 1)
    first = jnp.where(jnp.equal(nm1, 0), jnp.subtract(jnp.negative(jnp.log(x)), _EULER_GAMMA),
                      jnp.divide(1, jnp.where(jnp.equal(nm1, 0), 1, nm1)))
    log_term = jnp.subtract(lax.digamma(n), jnp.log(x))

    def body(i, carry):
        fact, total = carry
        i = i.astype(x.dtype)
        fact = jnp.multiply(fact, jnp.divide(jnp.negative(x), i))
        at_log = jnp.equal(i, nm1)
        plain = jnp.divide(jnp.negative(fact), jnp.where(at_log, 1, jnp.subtract(i, nm1)))
        return fact, jnp.add(total, jnp.where(at_log, jnp.multiply(fact, log_term), plain))
    return lax.fori_loop(1, _SERIES_TERMS, body, (jnp.ones_like(x), first))[1]


def _expn_continued_fraction(n, x):
    """E_n(x) for x > 1: e^-x / (x + n - n/(x + n + 2 - 2(n + 1)/(x + n + 4 - ...)))."""
    nm1 = jnp.subtract(n, 1)
    big = float(dtypes.finfo(core.get_aval(x).dtype).max) / 16
    b = jnp.add(x, n)
    d = jnp.divide(1, b)

    def body(i, carry):
        b, c, d, h = carry
        i = i.astype(x.dtype)
        an = jnp.negative(jnp.multiply(i, jnp.add(nm1, i)))
        b = jnp.add(b, 2)
        d = jnp.divide(1, jnp.add(jnp.multiply(an, d), b))
        c = jnp.add(b, jnp.divide(an, c))
        return b, c, d, jnp.multiply(h, jnp.multiply(c, d))
    h = lax.fori_loop(1, _FRACTION_TERMS, body, (b, jnp.full_like(x, big), d, d))[3]
    return jnp.multiply(h, jnp.exp(jnp.negative(x)))


@custom_jvp
def _expn(n, x):
    integer_n = jnp.logical_and(jnp.equal(n, jnp.floor(n)), jnp.greater_equal(n, 0))
    nan = jnp.logical_or(jnp.logical_or(jnp.logical_not(integer_n), jnp.less(x, 0)),
                         jnp.isnan(x))
    safe_n = jnp.where(jnp.logical_and(integer_n, jnp.greater_equal(n, 1)), n, 1)
    small = jnp.logical_and(jnp.greater(x, 0), jnp.less_equal(x, 1))
    series = _expn_series(safe_n, jnp.where(small, x, 0.5))
    fraction = _expn_continued_fraction(safe_n, jnp.where(jnp.greater(x, 1), x, 2))
    out = jnp.where(small, series, fraction)
    safe_x = jnp.where(jnp.greater(x, 0), x, 1)
    out = jnp.where(jnp.equal(n, 0), jnp.divide(jnp.exp(jnp.negative(safe_x)), safe_x), out)
    at_zero = jnp.where(jnp.less(n, 2), np.inf, jnp.divide(1, jnp.subtract(safe_n, 1)))
    out = jnp.where(jnp.equal(x, 0), at_zero, out)
    out = jnp.where(jnp.equal(x, np.inf), 0, out)
    return jnp.where(nan, np.nan, out)


@_expn.defjvp
def _expn_jvp(primals, tangents):
    # dE_n/dx = -E_{n-1}(x); E_0(x) = e^-x / x, whose slope is -e^-x (x + 1) / x^2. The order n
    # is an integer: it has no derivative.
    (n, x), (_, tx) = primals, tangents
    e0_slope = jnp.negative(jnp.divide(jnp.multiply(jnp.exp(jnp.negative(x)), jnp.add(x, 1)),
                                       jnp.square(x)))
    slope = jnp.where(jnp.equal(n, 0), e0_slope,
                      jnp.negative(_expn(jnp.maximum(jnp.subtract(n, 1), 0), x)))
    return _expn(n, x), jnp.multiply(tx, slope)


def expn(n, x):
    """The generalized exponential integral E_n(x) = integral from 1 to inf of e^(-x t) / t^n,
    for integer n >= 0 and x >= 0 (nan elsewhere); differentiable in x."""
    n, x = _real("expn", n, x)
    n, x = jnp.broadcast_arrays(n, x)
    return _expn(n, x)


def exp1(x):
    """E_1(x) = integral from x to inf of e^-t / t, for x >= 0."""
    (x,) = _real("exp1", x)
    return _expn(jnp.ones_like(x), x)


def _expi_series(x):
    """Ei(x) = gamma + log x + sum_k x^k / (k k!), for x > 0 (all terms positive)."""
    def body(k, carry):
        term, total = carry
        k = k.astype(x.dtype)
        term = jnp.multiply(term, jnp.divide(x, k))
        return term, jnp.add(total, jnp.divide(term, k))
    total = lax.fori_loop(1, _EI_SERIES_TERMS, body, (jnp.ones_like(x), jnp.zeros_like(x)))[1]
    return jnp.add(jnp.add(total, jnp.log(x)), _EULER_GAMMA)


def _expi_asymptotic(x):
    """Ei(x) ~ e^x / x sum_k k! / x^k, for large x."""
    def body(k, carry):
        term, total = carry
        term = jnp.multiply(term, jnp.divide(k.astype(x.dtype), x))
        return term, jnp.add(total, term)
    total = lax.fori_loop(1, _EI_ASYMPTOTIC_TERMS, body, (jnp.ones_like(x), jnp.ones_like(x)))[1]
    return jnp.multiply(jnp.divide(jnp.exp(x), x), total)


@custom_jvp
def _expi(x):
    positive = jnp.greater(x, 0)
    large = jnp.greater_equal(x, _EI_ASYMPTOTIC_FROM)
    series = _expi_series(jnp.where(jnp.logical_and(positive, jnp.logical_not(large)), x, 1))
    asymptotic = _expi_asymptotic(jnp.where(large, x, _EI_ASYMPTOTIC_FROM))
    negative = jnp.negative(_expn(jnp.ones_like(x), jnp.where(positive, 1, jnp.negative(x))))
    out = jnp.where(large, asymptotic, jnp.where(positive, series, negative))
    return jnp.where(jnp.equal(x, 0), -np.inf, out)


@_expi.defjvp
def _expi_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    return _expi(x), jnp.multiply(tx, jnp.divide(jnp.exp(x), x))


def expi(x):
    """The exponential integral Ei(x), the principal value of the integral from -inf to x of
    e^t / t; Ei(x) = -E_1(-x) for x < 0."""
    (x,) = _real("expi", x)
    return _expi(x)
