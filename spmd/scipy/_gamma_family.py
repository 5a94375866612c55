"""The gamma function and the functions built on it, as jax.scipy.special has them: gamma,
gammasgn, loggamma, beta, factorial, comb, poch, multigammaln, polygamma and Hurwitz's zeta.
Real arguments only (JAX's complex gamma and loggamma are not here yet)."""
from __future__ import annotations

import operator

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.scipy._incomplete import betaln
from spmd.scipy._bernoulli import _bernoulli_numbers
from spmd.transforms import core, dtypes, lax
from spmd.transforms.api import jvp
from spmd.transforms.custom_derivatives import custom_jvp


def _real(name, *args):
    args = promote_to_inexact(name, *args)
    if dtypes.is_complex(core.get_aval(args[0]).dtype):
        raise ValueError(f"{name} does not support complex-valued inputs; pass real numbers")
    return args


def _is_negative_zero(x):
    # 1 / -0 is -inf (spmd.numpy.signbit(-0.0) gives False today)
    return jnp.logical_and(jnp.equal(x, 0), jnp.less(jnp.divide(1, x), 0))


def gammasgn(x):
    """The sign of Gamma(x): -1 between the poles where it is negative and at -0, nan at the
    poles (the negative integers) and at nan, 1 elsewhere."""
    (x,) = _real("gammasgn", x)
    floor_x = jnp.floor(x)
    negative = jnp.less(x, 0)
    pole = jnp.logical_or(jnp.logical_and(negative, jnp.equal(x, floor_x)), jnp.isnan(x))
    minus = jnp.logical_or(jnp.logical_and(negative, jnp.not_equal(jnp.remainder(floor_x, 2), 0)),
                           _is_negative_zero(x))
    return jnp.where(pole, np.nan, jnp.where(minus, -1.0, 1.0)).astype(x.dtype)


def gamma(x):
    """Gamma(x) = gammasgn(x) * exp(lgamma(x)): +-inf at +-0, nan at the negative integers."""
    (x,) = _real("gamma", x)
    return jnp.multiply(gammasgn(x), jnp.exp(lax.lgamma(x)))


def loggamma(x):
    """log Gamma(x) for x > 0 (the principal branch); nan for x <= 0."""
    (x,) = _real("loggamma", x)
    return jnp.where(jnp.greater(x, 0), lax.lgamma(x), np.nan)


def beta(a, b):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b), with its sign."""
    a, b = _real("beta", a, b)
    sign = jnp.multiply(jnp.multiply(gammasgn(a), gammasgn(b)), gammasgn(jnp.add(a, b)))
    return jnp.multiply(sign, jnp.exp(betaln(a, b)))


def factorial(n, exact=False):
    """n! = Gamma(n + 1) for n >= 0 and 0 for n < 0. exact=True (integer arithmetic) is not
    supported, as in JAX."""
    if exact:
        raise NotImplementedError("factorial with exact=True is not supported; "
                                  "use exact=False (the gamma function)")
    (n,) = _real("factorial", n)
    return jnp.where(jnp.less(n, 0), 0, jnp.exp(lax.lgamma(jnp.add(n, 1))))


def comb(N, k, *, repetition=False):
    """The number of ways to choose k of N things, through lgamma; 0 where k > N, k < 0 or
    N < 0. With repetition, comb(N + k - 1, k) (1 where k == 0 and N >= 0)."""
    N, k = _real("comb", N, k)
    if repetition:
        return jnp.where(jnp.logical_and(jnp.equal(k, 0), jnp.greater_equal(N, 0)), 1.0,
                         comb(jnp.subtract(jnp.add(N, k), 1), k)).astype(N.dtype)
    valid = jnp.logical_and(jnp.logical_and(jnp.less_equal(k, N), jnp.greater_equal(N, 0)),
                            jnp.greater_equal(k, 0))
    safe_N, safe_k = jnp.where(valid, N, 0), jnp.where(valid, k, 0)
    log_comb = jnp.subtract(jnp.subtract(lax.lgamma(jnp.add(safe_N, 1)),
                                         lax.lgamma(jnp.add(safe_k, 1))),
                            lax.lgamma(jnp.add(jnp.subtract(safe_N, safe_k), 1)))
    return jnp.where(valid, jnp.exp(log_comb), 0).astype(N.dtype)


def poch(z, m):
    """Pochhammer's rising factorial (z)_m = Gamma(z + m) / Gamma(z); 1 where m == 0."""
    z, m = _real("poch", z, m)
    ratio = jnp.divide(gamma(jnp.add(z, m)), gamma(z))
    return jnp.where(jnp.equal(m, 0), 1.0, ratio).astype(z.dtype)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension d (a static integer):
    d (d - 1) / 4 log(pi) + sum over j < d of lgamma(a - j / 2)."""
    try:
        d = operator.index(d)
    except TypeError:
        raise TypeError(f"multigammaln's d must be a static Python integer (it fixes the "
                        f"number of terms); got {d!r}") from None
    (a,) = _real("multigammaln", a)
    halves = jnp.divide(jnp.arange(d, dtype=a.dtype), 2)
    terms = lax.lgamma(jnp.subtract(jnp.expand_dims(a, -1), halves))
    return jnp.add(jnp.sum(terms, axis=-1), d * (d - 1) / 4 * np.log(np.pi))


def polygamma(n, x):
    """The n-th derivative of digamma at x; n must have an integer dtype."""
    n_dtype = core.get_aval(n).dtype
    if not dtypes.issubdtype(n_dtype, np.integer):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype "
                         f"{np.dtype(n_dtype)}.")
    n, x = _real("polygamma", n, x)
    return lax.polygamma(n, x)


def zeta(x, q=None):
    """Hurwitz's zeta function, the sum over k >= 0 of (k + q)^-x, differentiable in x and q."""
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q != None to "
                                  "compute the Hurwitz Zeta function.")
    x, q = _real("zeta", x, q)
    return _zeta(*jnp.broadcast_arrays(x, q))


# B_2j / (2j)! for the Euler-Maclaurin tail of zeta's series
_ZETA_TAIL = [float(b) / float(np.prod(np.arange(1, 2 * j + 1, dtype=float)))
              for j, b in enumerate(_bernoulli_numbers(32)[::2]) if j > 0]


def _zeta_euler_maclaurin(s, q):
    """zeta(s, q) = sum_{k<N} (q + k)^-s + (q + N)^(1-s) / (s - 1) + (q + N)^-s (1/2 +
    sum_{j=1..M} B_2j / (2j)! s (s + 1) ... (s + 2j - 2) (q + N)^(1 - 2j)) (Johansson 2015,
    eq. 5), written in differentiable operations: its derivative in s is the one lax.zeta
    lacks."""
    terms = 8 if core.get_aval(s).dtype == np.float32 else 16
    k = jnp.arange(terms, dtype=s.dtype)
    head = jnp.sum(jnp.power(jnp.add(jnp.expand_dims(q, -1), k), jnp.negative(
        jnp.expand_dims(s, -1))), axis=-1)
    qn = jnp.add(q, terms)
    integral = jnp.divide(jnp.power(qn, jnp.subtract(1, s)), jnp.subtract(s, 1))
    tail, rising, inverse = jnp.full_like(s, 0.5), s, jnp.divide(1, qn)
    for j, coefficient in enumerate(_ZETA_TAIL[:terms]):
        if j:
            rising = jnp.multiply(rising, jnp.multiply(jnp.add(s, 2 * j - 1), jnp.add(s, 2 * j)))
            inverse = jnp.divide(inverse, jnp.square(qn))
        tail = jnp.add(tail, jnp.multiply(coefficient, jnp.multiply(rising, inverse)))
    return jnp.add(jnp.add(head, integral), jnp.multiply(jnp.power(qn, jnp.negative(s)), tail))


@custom_jvp
def _zeta(x, q):
    return lax.zeta(x, q)


@_zeta.defjvp
def _zeta_jvp(primals, tangents):
    # in q the closed form -x zeta(x + 1, q); in x the derivative of the Euler-Maclaurin sum
    (x, q), (tx, tq) = primals, tangents
    d_dx = jvp(lambda x: _zeta_euler_maclaurin(x, q), (x,), (jnp.ones_like(x),))[1]
    d_dq = jnp.negative(jnp.multiply(x, lax.zeta(jnp.add(x, 1), q)))
    return _zeta(x, q), jnp.add(jnp.multiply(tx, d_dx), jnp.multiply(tq, d_dq))
