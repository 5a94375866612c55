"""The regularized incomplete gamma functions as primitives (igamma_p, igammac_p,
igamma_grad_a_p, as in JAX): P(a, x), Q(a, x) = 1 - P(a, x) and dP/da. Each lowers to a traced
composite: the power series or the continued fraction of Numerical Recipes (sec. 6.2),
whichever converges fast at the point, run for a fixed number of terms in a fori_loop; the
continued fraction uses the modified Lentz method. The branch not taken is fed harmless inputs,
so neither its value nor its derivative can be nan where the result is used. dP/da is the
forward-mode derivative of that composite; the derivatives in x are closed forms."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.jvp import defjvp, jvp_flat
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.elementwise import (FLOAT, _abs as abs_, _bind, _declare, add,
                                             bitwise_and, bitwise_not, bitwise_or,
                                             convert_element_type, digamma, div, eq, exp, full,
                                             gt, le, lgamma, log, lt, mul, ne, neg, select, sub)
from spmd.transforms.lax.structural import broadcast_in_dim

TERMS = 200  # enough for float64 accuracy for shape parameters up to about 10^4


def const(x, value):
    """`value` broadcast to x's shape and dtype."""
    aval = core.get_aval(x)
    return full(aval.shape, np.asarray(value, aval.dtype), aval.dtype)


def where(pred, on_true, on_false):
    """select with Python scalars allowed on either side."""
    # by type, not isinstance: NumPy's float64 scalars are floats but operands here
    like = on_false if type(on_true) in (int, float) else on_true

    def wrap(v):
        return const(like, v) if type(v) in (int, float) else v
    return select(pred, wrap(on_true), wrap(on_false))


def as_arrays(*operands):
    """Operands as arrays: jvp rules may see Python scalars, which `where` takes as fill values."""
    return [convert_element_type(v, core.get_aval(v).dtype) for v in operands]


def lentz_guard(v, tiny):
    """v, kept away from zero by `tiny` (modified Lentz)."""
    return where(lt(abs_(v), const(v, tiny)), tiny, v)


def tiny_for(x):
    return float(dtypes.finfo(core.get_aval(x).dtype).tiny) * 16


def _series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1)...(a + n)), for x < a + 1."""

    def body(_, carry):
        ap, term, total = carry
        ap = add(ap, const(ap, 1))
        term = mul(term, div(x, ap))
        return ap, term, add(total, term)
    one = const(a, 1)
    _, _, total = fori_loop(0, TERMS, body, (a, one, one))
    log_front = sub(sub(mul(a, log(x)), x), lgamma(add(a, one)))
    return mul(exp(log_front), total)


def _continued_fraction(a, x):
    """Q(a, x) = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))), for
    x >= a + 1."""
    tiny = tiny_for(x)
    b = sub(add(x, const(x, 1)), a)
    c = const(x, 1 / tiny)
    d = div(const(x, 1), b)

    def body(i, carry):
        b, c, d, h = carry
        i = broadcast_in_dim(convert_element_type(i, core.get_aval(x).dtype),
                             core.get_aval(x).shape, ())
        an = mul(neg(i), sub(i, a))
        b = add(b, const(b, 2))
        d = div(const(d, 1), lentz_guard(add(mul(an, d), b), tiny))
        c = lentz_guard(add(b, div(an, c)), tiny)
        return b, c, d, mul(h, mul(d, c))
    _, _, _, h = fori_loop(1, TERMS, body, (b, c, d, d))
    log_front = sub(sub(mul(a, log(x)), x), lgamma(a))
    return mul(exp(log_front), h)


def _lower_or_upper(a, x, upper: bool):
    """P(a, x) (or Q when `upper`), with x == 0, x == inf and the domain errors (a <= 0,
    x < 0, nan: nan) as scipy and JAX give them."""
    a, x = as_arrays(a, x)
    valid = bitwise_and(gt(a, const(a, 0)), gt(x, const(x, 0)))
    use_series = lt(x, add(a, const(a, 1)))
    safe_a = where(valid, a, 1)
    p = _series(safe_a, where(bitwise_and(valid, use_series), x, 1))
    q = _continued_fraction(safe_a, where(bitwise_and(valid, bitwise_not(use_series)),
                                          x, 3))
    one = const(x, 1)
    value = (where(use_series, sub(one, p), q) if upper
             else where(use_series, p, sub(one, q)))
    at_zero = 1 if upper else 0
    nan = bitwise_or(bitwise_or(le(a, const(a, 0)), lt(x, const(x, 0))),
                     bitwise_or(ne(a, a), ne(x, x)))
    out = where(eq(x, const(x, 0)), at_zero, value)
    out = where(eq(x, const(x, np.inf)), 1 - at_zero, out)
    return where(nan, np.nan, out)


def derivative(fn, x):
    """d fn / dx elementwise: fn's forward-mode derivative along ones, traced in place."""
    return jvp_flat(lambda v: [fn(v)], [x], [const(x, 1)])[1][0]


def _grad_a(a, x):
    return derivative(lambda a: _lower_or_upper(a, x, False), a)


def _density(a, x):
    """dP/dx = x^(a-1) e^-x / Gamma(a)."""
    return exp(sub(sub(mul(sub(a, const(a, 1)), log(x)), x), lgamma(a)))


def _mul(t, v):
    return mul(t, v)


igamma_p = _declare("igamma", 2, (FLOAT,), lower_fun(lambda a, x: _lower_or_upper(a, x, False)))
igammac_p = _declare("igammac", 2, (FLOAT,), lower_fun(lambda a, x: _lower_or_upper(a, x, True)))
igamma_grad_a_p = _declare("igamma_grad_a", 2, (FLOAT,), lower_fun(_grad_a))
igamma = _bind(igamma_p)
igammac = _bind(igammac_p)
igamma_grad_a = _bind(igamma_grad_a_p)
igamma.__doc__ = "The regularized lower incomplete gamma function P(a, x)."
igammac.__doc__ = "The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."
igamma_grad_a.__doc__ = "The derivative of P(a, x) in a."


def _neg_mul(t, v):
    return neg(mul(t, v))


defjvp(igamma_p, lambda t, a, x: _mul(t, igamma_grad_a(a, x)),
       lambda t, a, x: _mul(t, _density(a, x)))
defjvp(igammac_p, lambda t, a, x: _neg_mul(t, igamma_grad_a(a, x)),
       lambda t, a, x: _neg_mul(t, _density(a, x)))


def _grad_a_jvp_a(t, a, x):
    """d^2 P / da^2: the second forward derivative of the composite, traced in place."""
    return _mul(t, derivative(lambda a: _grad_a(a, x), a))


def _grad_a_jvp_x(t, a, x):
    """d/dx dP/da = d/da density = density (log x - digamma(a))."""
    return _mul(t, mul(_density(a, x), sub(log(x), digamma(a))))


defjvp(igamma_grad_a_p, _grad_a_jvp_a, _grad_a_jvp_x)
