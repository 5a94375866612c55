"""The regularized incomplete gamma and beta functions (gammainc, gammaincc, betainc) and betaln.

The gamma functions are lax's igamma and igammac primitives (transforms/lax/incomplete_gamma.py)
after NumPy's promotion and broadcasting. betainc is the continued fraction of Numerical Recipes
(sec. 6.4), run for a fixed number of terms in a fori_loop (a scan: differentiable in every
argument, forward and reverse), by the modified Lentz method. The branch not taken is fed
harmless inputs, so that neither its value nor its derivative can be nan where it is used."""
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
