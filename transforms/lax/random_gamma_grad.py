"""lax.random_gamma_grad(a, x): the derivative of a Gamma(a) sample x with respect to a, holding
the sample's quantile fixed (the implicit reparameterization gradient):
dx/da = -(dP(a, x)/da) / (dP(a, x)/dx), P the regularized lower incomplete gamma function.

The numerator comes from differentiating, term by term, the series for P (x <= max(a, 1)) or the
continued fraction for 1 - P (elsewhere), as XLA's and JAX's igamma do, with their stopping
rules (relative change of the derivative below eps; at most 2000 fraction terms), so gradients
match JAX's. Both loops run over whole arrays: an element that has converged is frozen, so each
element gets what it would alone."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes, lax


def _full_like(x, value):
    aval = core.get_aval(x)
    return lax.full(aval.shape, np.asarray(value, aval.dtype), aval.dtype)


def _any(pred):
    return lax.reduce_or(pred, tuple(range(core.get_aval(pred).ndim)))


def _series_derivative(x, a, enabled, eps):
    """-(dP/da) * x^(1-a) e^x Gamma(a) / ... in JAX's scaling: the sample derivative from the
    series P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))."""
    def cond(vals):
        return _any(vals[0])

    def body(vals):
        on, r, c, ans, dc_da, dans_da = vals
        r1 = lax.add(r, _full_like(r, 1))
        dc1 = lax.sub(lax.mul(dc_da, lax.div(x, r1)), lax.div(lax.mul(c, x), lax.mul(r1, r1)))
        dans1 = lax.add(dans_da, dc1)
        c1 = lax.mul(c, lax.div(x, r1))
        ans1 = lax.add(ans, c1)
        still = lax.bitwise_and(on, lax.gt(lax.abs(lax.div(dc1, dans1)), _full_like(x, eps)))
        keep = [lax.select(on, new, old) for new, old in
                ((r1, r), (c1, c), (ans1, ans), (dc1, dc_da), (dans1, dans_da))]
        return (still, *keep)

    one, zero = _full_like(a, 1), _full_like(a, 0)
    _, _, _, ans, _, dans_da = lax.while_loop(cond, body, (enabled, a, one, one, zero, zero))
    dlogax_da = lax.sub(lax.log(x), lax.digamma(lax.add(a, one)))
    return lax.div(lax.mul(lax.neg(lax.add(dans_da, lax.mul(ans, dlogax_da))), x), a)


def _fraction_derivative(x, a, enabled, eps):
    """The same from Legendre's continued fraction for the upper function 1 - P, whose
    convergents p/q and their a-derivatives advance together (rescaled by eps when large)."""
    def cond(vals):
        return lax.bitwise_and(lax.lt(vals[4], _full_like(vals[4], 2000)), _any(vals[0]))

    def body(vals):
        (on, ans, y, z, c, pkm1, qkm1, pkm2, qkm2,
         dpkm2, dqkm2, dpkm1, dqkm1, dans) = vals
        count = lax.add(c, _full_like(c, 1))  # one scalar count for all elements
        c = lax.broadcast_in_dim(count, core.get_aval(y).shape, ())
        y1 = lax.add(y, _full_like(y, 1))
        z1 = lax.add(z, _full_like(z, 2))
        yc = lax.mul(y1, c)
        pk = lax.sub(lax.mul(pkm1, z1), lax.mul(pkm2, yc))
        qk = lax.sub(lax.mul(qkm1, z1), lax.mul(qkm2, yc))
        nonzero = lax.ne(qk, _full_like(qk, 0))
        ans1 = lax.select(nonzero, lax.div(pk, qk), ans)
        dpk = lax.add(lax.sub(lax.sub(lax.mul(dpkm1, z1), pkm1), lax.mul(dpkm2, yc)),
                      lax.mul(pkm2, c))
        dqk = lax.add(lax.sub(lax.sub(lax.mul(dqkm1, z1), qkm1), lax.mul(dqkm2, yc)),
                      lax.mul(qkm2, c))
        dans1 = lax.select(nonzero, lax.div(lax.sub(dpk, lax.mul(ans1, dqk)), qk), dans)
        change = lax.select(nonzero, lax.abs(lax.sub(dans1, dans)), _full_like(dans, 1))
        # shift the recurrences, scaling all four down together when they grow too large
        rescale = lax.gt(lax.abs(pk), _full_like(pk, 1 / eps))

        def scaled(v):
            return lax.select(rescale, lax.mul(v, _full_like(v, eps)), v)

        pkm2n, pkm1n, qkm2n, qkm1n = (scaled(v) for v in (pkm1, pk, qkm1, qk))
        dpkm2n, dqkm2n, dpkm1n, dqkm1n = (scaled(v) for v in (dpkm1, dqkm1, dpk, dqk))
        still = lax.bitwise_and(on, lax.gt(change, _full_like(change, eps)))
        pairs = ((ans1, ans), (y1, y), (z1, z))
        kept = [lax.select(on, new, old) for new, old in pairs]
        rest = [lax.select(on, new, old) for new, old in
                ((pkm1n, pkm1), (qkm1n, qkm1), (pkm2n, pkm2), (qkm2n, qkm2), (dpkm2n, dpkm2),
                 (dqkm2n, dqkm2), (dpkm1n, dpkm1), (dqkm1n, dqkm1), (dans1, dans))]
        return (still, *kept, count, *rest)

    one = _full_like(x, 1)
    y = lax.sub(_full_like(a, 1), a)
    z = lax.add(lax.add(x, y), one)
    pkm1 = lax.add(x, one)
    qkm1 = lax.mul(z, x)
    ans = lax.div(pkm1, qkm1)
    zero = _full_like(x, 0)
    dqkm1 = lax.neg(x)
    dans = lax.div(lax.sub(zero, lax.mul(ans, dqkm1)), qkm1)
    count = lax.full((), np.asarray(0, core.get_aval(x).dtype), core.get_aval(x).dtype)
    init = (enabled, ans, y, z, count, pkm1, qkm1, one, x, zero, zero, zero, dqkm1, dans)
    out = lax.while_loop(cond, body, init)
    ans, dans = out[1], out[13]
    dlogax_da = lax.sub(lax.log(x), lax.digamma(a))
    return lax.neg(lax.mul(lax.add(dans, lax.mul(ans, dlogax_da)), x))


def random_gamma_grad(a, x):
    """d(sample)/d(a) for Gamma(a) samples x (jax.lax.random_gamma_grad); a and x of one float
    dtype and shape. NaN where a <= 0, x < 0 or either is NaN; 0 at x == 0."""
    dtype = core.get_aval(a).dtype
    eps = float(dtypes.finfo(dtype).eps)
    is_nan = lax.bitwise_or(lax.ne(a, a), lax.ne(x, x))
    x_is_zero = lax.eq(x, _full_like(x, 0))
    domain_error = lax.bitwise_or(lax.lt(x, _full_like(x, 0)), lax.le(a, _full_like(a, 0)))
    use_fraction = lax.bitwise_and(lax.gt(x, _full_like(x, 1)), lax.gt(x, a))
    log_ax = lax.sub(lax.sub(lax.mul(a, lax.log(x)), x), lax.lgamma(a))
    underflow = lax.lt(log_ax, _full_like(log_ax, -np.log(dtypes.finfo(dtype).max)))
    enabled = lax.bitwise_not(lax.bitwise_or(lax.bitwise_or(x_is_zero, domain_error),
                                             lax.bitwise_or(underflow, is_nan)))
    by_fraction = lax.neg(_fraction_derivative(
        x, a, lax.bitwise_and(enabled, use_fraction), eps))
    by_series = _series_derivative(x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_fraction)),
                                   eps)
    out = lax.select(use_fraction, by_fraction, by_series)
    out = lax.select(x_is_zero, _full_like(out, 0), out)
    return lax.select(lax.bitwise_or(domain_error, is_nan), _full_like(a, np.nan), out)
