"""The regularized incomplete beta function as a primitive (regularized_incomplete_beta_p, as in
JAX; lax.betainc binds it): I_x(a, b) for a, b > 0 and 0 <= x <= 1. It lowers to a traced
composite: the continued fraction of Numerical Recipes (sec. 6.4) by the modified Lentz method,
for a fixed number of terms in a fori_loop, at x or mirrored at 1 - x, whichever converges fast.
The derivative in x is the closed form; those in a and b (which JAX does not give) are the
forward-mode derivatives of the composite, traced in place."""
from __future__ import annotations

from spmd.transforms.jvp import defjvp
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.elementwise import FLOAT, _declare, elementwise_aval
from spmd.transforms.lax.incomplete_gamma import (TERMS, as_arrays, const, lentz_guard,
                                                    tiny_for, where)


def _log_beta(a, b):
    from spmd.transforms import lax
    return lax.sub(lax.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(lax.add(a, b)))


def _continued_fraction(a, b, x):
    """I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1/(1+ d1/(1+ d2/(1+ ...))), accurate for
    x < (a + 1) / (a + b + 2)."""
    from spmd.transforms import core, lax
    tiny = tiny_for(x)
    one = const(x, 1)
    qab, qap, qam = lax.add(a, b), lax.add(a, one), lax.sub(a, one)
    d = lax.div(one, lentz_guard(lax.sub(one, lax.div(lax.mul(qab, x), qap)), tiny))

    def step(coef, c, d):
        d = lax.div(one, lentz_guard(lax.add(one, lax.mul(coef, d)), tiny))
        c = lentz_guard(lax.add(one, lax.div(coef, c)), tiny)
        return c, d

    def body(m, carry):
        c, d, h = carry
        m = lax.broadcast_in_dim(lax.convert_element_type(m, core.get_aval(x).dtype),
                                 core.get_aval(x).shape, ())
        m2 = lax.add(m, m)
        even = lax.div(lax.mul(lax.mul(m, lax.sub(b, m)), x),
                       lax.mul(lax.add(qam, m2), lax.add(a, m2)))
        c, d = step(even, c, d)
        h = lax.mul(h, lax.mul(d, c))
        odd = lax.div(lax.neg(lax.mul(lax.mul(lax.add(a, m), lax.add(qab, m)), x)),
                      lax.mul(lax.add(a, m2), lax.add(qap, m2)))
        c, d = step(odd, c, d)
        return c, d, lax.mul(h, lax.mul(d, c))
    _, _, h = lax.fori_loop(1, TERMS, body, (one, d, d))
    log_front = lax.sub(lax.add(lax.mul(a, lax.log(x)), lax.mul(b, lax.log1p(lax.neg(x)))),
                        _log_beta(a, b))
    return lax.div(lax.mul(lax.exp(log_front), h), a)


def _betainc(a, b, x):
    from spmd.transforms import lax
    a, b, x = as_arrays(a, b, x)
    zero, one = const(x, 0), const(x, 1)
    valid = lax.bitwise_and(lax.bitwise_and(lax.gt(a, zero), lax.gt(b, zero)),
                            lax.bitwise_and(lax.gt(x, zero), lax.lt(x, one)))
    direct = lax.lt(x, lax.div(lax.add(a, one), lax.add(lax.add(a, b), const(x, 2))))
    safe_a, safe_b = where(valid, a, 1), where(valid, b, 1)
    x_direct = where(lax.bitwise_and(valid, direct), x, 0.25)
    x_mirror = where(lax.bitwise_and(valid, lax.bitwise_not(direct)), x, 0.75)
    lower = _continued_fraction(safe_a, safe_b, x_direct)
    upper = _continued_fraction(safe_b, safe_a, lax.sub(one, x_mirror))
    out = where(direct, lower, lax.sub(one, upper))
    out = where(lax.eq(x, zero), 0, where(lax.eq(x, one), 1, out))
    bad = lax.bitwise_or(lax.bitwise_or(lax.le(a, zero), lax.le(b, zero)),
                         lax.bitwise_or(lax.lt(x, zero), lax.gt(x, one)))
    total = lax.add(lax.add(a, b), x)
    return where(lax.bitwise_or(bad, lax.ne(total, total)), float("nan"), out)


regularized_incomplete_beta_p = _declare("regularized_incomplete_beta", 3, (FLOAT,),
                                         lower_fun(_betainc))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    from spmd.transforms import core
    # checked here so that errors name the function the user called
    elementwise_aval("betainc", (FLOAT,), [core.get_aval(v) for v in (a, b, x)])
    return regularized_incomplete_beta_p.bind(a, b, x)


def _jvp_in(position):
    def rule(t, a, b, x):
        from spmd.transforms import lax
        from spmd.transforms.api import jvp
        args = [a, b, x]

        def along(v):
            return _betainc(*(args[:position] + [v] + args[position + 1:]))
        return lax.mul(t, jvp(along, (args[position],), (const(t, 1),))[1])
    return rule


def _jvp_x(t, a, b, x):
    """dI/dx = x^(a-1) (1-x)^(b-1) / B(a, b)."""
    from spmd.transforms import lax
    one = const(x, 1)
    return lax.mul(t, lax.exp(lax.sub(lax.add(lax.mul(lax.sub(b, one), lax.log1p(lax.neg(x))),
                                              lax.mul(lax.sub(a, one), lax.log(x))),
                                      _log_beta(a, b))))


defjvp(regularized_incomplete_beta_p, _jvp_in(0), _jvp_in(1), _jvp_x)
