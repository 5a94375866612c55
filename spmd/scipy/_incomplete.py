"""The regularized incomplete gamma and beta functions (gammainc, gammaincc, betainc) and betaln.

Each is the power series or the continued fraction of Numerical Recipes (sec. 6.2, 6.4),
whichever converges fast at the point, run for a fixed number of terms in a fori_loop (a scan:
differentiable in every argument, forward and reverse). The continued fractions use the
modified Lentz method. The branch not taken is fed harmless inputs, so that neither its value
nor its derivative can be nan where the result is used."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.transforms import core, dtypes, lax

_TERMS = 200  # enough for float64 accuracy for shape parameters up to about 10^4


def _tiny(dtype):
    return float(dtypes.finfo(dtype).tiny) * 16


def _lentz_guard(v, tiny):
    return jnp.where(jnp.less(jnp.abs(v), tiny), tiny, v)


def _prepared(name, *args):
    args = promote_to_inexact(name, *args)
    return jnp.broadcast_arrays(*args)


# ---------------------------------------------------------------- incomplete gamma
def _gamma_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1)...(a + n)), for x < a + 1."""
    def body(_, carry):
        ap, term, total = carry
        ap = jnp.add(ap, 1)
        term = jnp.multiply(term, jnp.divide(x, ap))
        return ap, term, jnp.add(total, term)
    one = jnp.ones_like(a)
    _, _, total = lax.fori_loop(0, _TERMS, body, (a, one, one))
    log_front = jnp.subtract(jnp.subtract(jnp.multiply(a, jnp.log(x)), x), lax.lgamma(
        jnp.add(a, 1)))
    return jnp.multiply(jnp.exp(log_front), total)


def _gamma_continued_fraction(a, x):
    """Q(a, x) = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))), for
    x >= a + 1."""
    tiny = _tiny(core.get_aval(x).dtype)
    b = jnp.subtract(jnp.add(x, 1), a)
    c = jnp.full_like(x, 1 / tiny)
    d = jnp.divide(1, b)

    def body(i, carry):
        b, c, d, h = carry
        i = i.astype(core.get_aval(x).dtype)
        an = jnp.multiply(jnp.negative(i), jnp.subtract(i, a))
        b = jnp.add(b, 2)
        d = jnp.divide(1, _lentz_guard(jnp.add(jnp.multiply(an, d), b), tiny))
        c = _lentz_guard(jnp.add(b, jnp.divide(an, c)), tiny)
        return b, c, d, jnp.multiply(h, jnp.multiply(d, c))
    _, _, _, h = lax.fori_loop(1, _TERMS, body, (b, c, d, d))
    log_front = jnp.subtract(jnp.subtract(jnp.multiply(a, jnp.log(x)), x), lax.lgamma(a))
    return jnp.multiply(jnp.exp(log_front), h)


def _gamma_pq(name, a, x):
    """(P, Q, valid, use_series) for the regularized incomplete gamma at (a, x)."""
    a, x = _prepared(name, a, x)
    valid = jnp.logical_and(jnp.greater(a, 0), jnp.greater(x, 0))
    use_series = jnp.less(x, jnp.add(a, 1))
    safe_a = jnp.where(valid, a, 1)
    series_x = jnp.where(jnp.logical_and(valid, use_series), x, 1)
    cf_x = jnp.where(jnp.logical_and(valid, jnp.logical_not(use_series)), x, 3)
    p = _gamma_series(safe_a, series_x)
    q = _gamma_continued_fraction(safe_a, cf_x)
    return a, x, jnp.where(use_series, p, jnp.subtract(1, q)), \
        jnp.where(use_series, jnp.subtract(1, p), q), valid


def _gamma_edges(a, x, value, valid, at_zero):
    """x == 0 gives `at_zero`, x == inf its complement; a <= 0, x < 0 or nan give nan."""
    nan = jnp.logical_or(jnp.logical_or(jnp.less_equal(a, 0), jnp.less(x, 0)),
                         jnp.logical_or(jnp.isnan(a), jnp.isnan(x)))
    out = jnp.where(jnp.equal(x, 0), at_zero, value)
    out = jnp.where(jnp.equal(x, np.inf), 1 - at_zero, out)
    return jnp.where(nan, np.nan, out)


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a)."""
    a, x, p, _, valid = _gamma_pq("gammainc", a, x)
    return _gamma_edges(a, x, p, valid, 0)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), accurate where it
    is small (computed directly, not as 1 - P)."""
    a, x, _, q, valid = _gamma_pq("gammaincc", a, x)
    return _gamma_edges(a, x, q, valid, 1)


# ---------------------------------------------------------------- incomplete beta
def betaln(a, b):
    """log |B(a, b)| = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    a, b = promote_to_inexact("betaln", a, b)
    return jnp.subtract(jnp.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(jnp.add(a, b)))


def _beta_continued_fraction(a, b, x):
    """I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1/(1+ d1/(1+ d2/(1+ ...))), accurate for
    x < (a + 1) / (a + b + 2)."""
    tiny = _tiny(core.get_aval(x).dtype)
    qab, qap, qam = jnp.add(a, b), jnp.add(a, 1), jnp.subtract(a, 1)
    c = jnp.ones_like(x)
    d = jnp.divide(1, _lentz_guard(jnp.subtract(1, jnp.divide(jnp.multiply(qab, x), qap)), tiny))

    def body(m, carry):
        c, d, h = carry
        m = m.astype(core.get_aval(x).dtype)
        m2 = jnp.multiply(2, m)
        even = jnp.divide(jnp.multiply(jnp.multiply(m, jnp.subtract(b, m)), x),
                          jnp.multiply(jnp.add(qam, m2), jnp.add(a, m2)))
        d = jnp.divide(1, _lentz_guard(jnp.add(1, jnp.multiply(even, d)), tiny))
        c = _lentz_guard(jnp.add(1, jnp.divide(even, c)), tiny)
        h = jnp.multiply(h, jnp.multiply(d, c))
        odd = jnp.divide(jnp.negative(jnp.multiply(jnp.multiply(jnp.add(a, m), jnp.add(qab, m)),
                                                   x)),
                         jnp.multiply(jnp.add(a, m2), jnp.add(qap, m2)))
        d = jnp.divide(1, _lentz_guard(jnp.add(1, jnp.multiply(odd, d)), tiny))
        c = _lentz_guard(jnp.add(1, jnp.divide(odd, c)), tiny)
        return c, d, jnp.multiply(h, jnp.multiply(d, c))
    _, _, h = lax.fori_loop(1, _TERMS, body, (c, d, d))
    log_front = jnp.subtract(jnp.add(jnp.multiply(a, jnp.log(x)), jnp.multiply(b, jnp.log1p(
        jnp.negative(x)))), betaln(a, b))
    return jnp.divide(jnp.multiply(jnp.exp(log_front), h), a)


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    a, b, x = _prepared("betainc", a, b, x)
    valid = jnp.logical_and(jnp.logical_and(jnp.greater(a, 0), jnp.greater(b, 0)),
                            jnp.logical_and(jnp.greater(x, 0), jnp.less(x, 1)))
    direct = jnp.less(x, jnp.divide(jnp.add(a, 1), jnp.add(jnp.add(a, b), 2)))
    safe_a, safe_b = jnp.where(valid, a, 1), jnp.where(valid, b, 1)
    x_direct = jnp.where(jnp.logical_and(valid, direct), x, 0.25)
    x_mirror = jnp.where(jnp.logical_and(valid, jnp.logical_not(direct)), x, 0.75)
    lower = _beta_continued_fraction(safe_a, safe_b, x_direct)
    upper = _beta_continued_fraction(safe_b, safe_a, jnp.subtract(1, x_mirror))
    out = jnp.where(direct, lower, jnp.subtract(1, upper))
    out = jnp.where(jnp.equal(x, 0), 0, jnp.where(jnp.equal(x, 1), 1, out))
    bad = jnp.logical_or(jnp.logical_or(jnp.less_equal(a, 0), jnp.less_equal(b, 0)),
                         jnp.logical_or(jnp.less(x, 0), jnp.greater(x, 1)))
    bad = jnp.logical_or(bad, jnp.isnan(jnp.add(jnp.add(a, b), x)))
    return jnp.where(bad, np.nan, out)
