"""The regularized incomplete beta function as a primitive (regularized_incomplete_beta_p, as in
JAX; lax.betainc binds it): I_x(a, b) for a, b > 0 and 0 <= x <= 1. It lowers to a traced
composite: the continued fraction of Numerical Recipes (sec. 6.4) by the modified Lentz method,
for a fixed number of terms in a fori_loop, at x or mirrored at 1 - x, whichever converges fast.
The derivative in x is the closed form; those in a and b (which JAX does not give) are the
forward-mode derivatives of the composite, traced in place."""
from __future__ import annotations

from spmd.transforms import core
from spmd.transforms.jvp import defjvp
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.elementwise import (FLOAT, _declare, add, bitwise_and, bitwise_not,
                                             bitwise_or, convert_element_type, div,
                                             elementwise_aval, eq, exp, gt, le, lgamma, log, log1p,
                                             lt, mul, ne, neg, sub)
from spmd.transforms.lax.incomplete_gamma import (TERMS, as_arrays, const, derivative, lentz_guard,
                                                    tiny_for, where)
from spmd.transforms.lax.structural import broadcast_in_dim


def _log_beta(a, b):
    return sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))


def _continued_fraction(a, b, x):
    """I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1/(1+ d1/(1+ d2/(1+ ...))), accurate for
    x < (a + 1) / (a + b + 2)."""
    tiny = tiny_for(x)
    one = const(x, 1)
    qab, qap, qam = add(a, b), add(a, one), sub(a, one)
    d = div(one, lentz_guard(sub(one, div(mul(qab, x), qap)), tiny))

    def step(coef, c, d):
        d = div(one, lentz_guard(add(one, mul(coef, d)), tiny))
        c = lentz_guard(add(one, div(coef, c)), tiny)
        return c, d

    def body(m, carry):
        c, d, h = carry
        m = broadcast_in_dim(convert_element_type(m, core.get_aval(x).dtype),
                             core.get_aval(x).shape, ())
        m2 = add(m, m)
        even = div(mul(mul(m, sub(b, m)), x), mul(add(qam, m2), add(a, m2)))
        c, d = step(even, c, d)
        h = mul(h, mul(d, c))
        odd = div(neg(mul(mul(add(a, m), add(qab, m)), x)), mul(add(a, m2), add(qap, m2)))
        c, d = step(odd, c, d)
        return c, d, mul(h, mul(d, c))
    _, _, h = fori_loop(1, TERMS, body, (one, d, d))
    log_front = sub(add(mul(a, log(x)), mul(b, log1p(neg(x)))), _log_beta(a, b))
    return div(mul(exp(log_front), h), a)


def _betainc(a, b, x):
    a, b, x = as_arrays(a, b, x)
    zero, one = const(x, 0), const(x, 1)
    valid = bitwise_and(bitwise_and(gt(a, zero), gt(b, zero)),
                        bitwise_and(gt(x, zero), lt(x, one)))
    direct = lt(x, div(add(a, one), add(add(a, b), const(x, 2))))
    safe_a, safe_b = where(valid, a, 1), where(valid, b, 1)
    x_direct = where(bitwise_and(valid, direct), x, 0.25)
    x_mirror = where(bitwise_and(valid, bitwise_not(direct)), x, 0.75)
    lower = _continued_fraction(safe_a, safe_b, x_direct)
    upper = _continued_fraction(safe_b, safe_a, sub(one, x_mirror))
    out = where(direct, lower, sub(one, upper))
    out = where(eq(x, zero), 0, where(eq(x, one), 1, out))
    bad = bitwise_or(bitwise_or(le(a, zero), le(b, zero)), bitwise_or(lt(x, zero), gt(x, one)))
    total = add(add(a, b), x)
    return where(bitwise_or(bad, ne(total, total)), float("nan"), out)


regularized_incomplete_beta_p = _declare("regularized_incomplete_beta", 3, (FLOAT,),
                                         lower_fun(_betainc))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    # checked here so that errors name the function the user called
    elementwise_aval("betainc", (FLOAT,), [core.get_aval(v) for v in (a, b, x)])
    return regularized_incomplete_beta_p.bind(a, b, x)


def _jvp_in(position):
    def rule(t, a, b, x):
        args = [a, b, x]

        def along(v):
            return _betainc(*(args[:position] + [v] + args[position + 1:]))
        return mul(t, derivative(along, args[position]))
    return rule


def _jvp_x(t, a, b, x):
    """dI/dx = x^(a-1) (1-x)^(b-1) / B(a, b)."""
    one = const(x, 1)
    return mul(t, exp(sub(add(mul(sub(b, one), log1p(neg(x))), mul(sub(a, one), log(x))),
                          _log_beta(a, b))))


defjvp(regularized_incomplete_beta_p, _jvp_in(0), _jvp_in(1), _jvp_x)
