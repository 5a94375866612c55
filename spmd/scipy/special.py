"""scipy.special functions as jax.scipy.special has them: logsumexp, erf, erfc, erfinv, expit,
logit, gammaln, digamma, xlogy, xlog1py, softmax, log_softmax, the normal distribution's ndtr,
log_ndtr, ndtri, the incomplete gamma and beta functions gammainc, gammaincc, betainc,
betaln; the gamma family (_gamma_family.py), i0/i1 and their scaled forms (_bessel.py), and the
entropy terms and Box-Cox transforms (_logarithmic.py), erfcx, the exponential integrals exp1,
expi, expn, the Bernoulli numbers, dawsn, spence, bessel_jn,
hyp1f1, hyp2f1, owens_t, wofz, lpmn, lpmn_values and sph_harm_y
(_legendre.py), and sici and fresnel (_oscillatory_integrals.py)."""
from __future__ import annotations

import numpy as np

from spmd.missing_names import module_getattr as _module_getattr
import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.numpy._softmax import softmax  # noqa: F401
from spmd.scipy._bernoulli import bernoulli  # noqa: F401
from spmd.scipy._bessel import i0, i0e, i1, i1e  # noqa: F401
from spmd.scipy._bessel_jn import bessel_jn  # noqa: F401
from spmd.scipy._dawsn import dawsn  # noqa: F401
from spmd.scipy._erfcx import erfcx  # noqa: F401
from spmd.scipy._exponential_integrals import exp1, expi, expn  # noqa: F401
from spmd.scipy._gamma_family import (beta, comb, factorial, gamma, gammasgn,  # noqa: F401
                                      loggamma, multigammaln, poch, polygamma, zeta)
from spmd.scipy._hyp1f1 import hyp1f1  # noqa: F401
from spmd.scipy._hyp2f1 import hyp2f1  # noqa: F401
from spmd.scipy._incomplete import betainc, betaln, gammainc, gammaincc  # noqa: F401
from spmd.scipy._legendre import lpmn, lpmn_values, sph_harm_y  # noqa: F401
from spmd.scipy._logarithmic import boxcox, boxcox1p, entr, kl_div, rel_entr  # noqa: F401
from spmd.scipy._oscillatory_integrals import fresnel, sici  # noqa: F401
from spmd.scipy._owens_t import owens_t  # noqa: F401
from spmd.scipy._spence import spence  # noqa: F401
from spmd.scipy._wofz import wofz  # noqa: F401
from spmd.scipy._ndtr import erfc, log_ndtr, ndtr, ndtri  # noqa: F401
from spmd.transforms import dtypes, lax
from spmd.transforms.custom_derivatives import custom_jvp
from spmd.transforms.stop_gradient import stop_gradient


def _unary(name, op):
    def fn(x):
        (x,) = promote_to_inexact(name, x)
        return op(x)
    fn.__name__ = fn.__qualname__ = name
    return fn


erf = _unary("erf", lax.erf)
erfinv = _unary("erfinv", lax.erf_inv)
expit = _unary("expit", lax.logistic)
gammaln = _unary("gammaln", lax.lgamma)
digamma = _unary("digamma", lax.digamma)


def logit(x):
    """log(x / (1 - x)), the inverse of expit."""
    (x,) = promote_to_inexact("logit", x)
    return jnp.log(jnp.divide(x, jnp.subtract(1, x)))


def xlogy(x, y):
    """x * log(y), taken as 0 where x == 0. Its derivative in x is log(y) everywhere (as JAX's),
    in y x / y, taken as 0 where x == 0."""
    x, y = promote_to_inexact("xlogy", x, y)
    return _xlogy(x, y)


def xlog1py(x, y):
    """x * log1p(y), taken as 0 where x == 0; derivatives as xlogy's."""
    x, y = promote_to_inexact("xlog1py", x, y)
    return _xlog1py(x, y)


def _x_times(log_fn, singular, safe_arg):
    """x * log_fn(y), 0 where x == 0 (y replaced there by `safe_arg`, so nothing is nan), with
    the derivative log_fn(y) in x and x * log_fn'(y) in y (0 at x == 0, even where y is the
    `singular` point of log_fn)."""
    @custom_jvp
    def fn(x, y):
        zero = jnp.equal(x, 0)
        return jnp.where(zero, 0, jnp.multiply(x, log_fn(jnp.where(zero, safe_arg, y))))

    @fn.defjvp
    def fn_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        both = jnp.logical_and(jnp.equal(x, 0), jnp.equal(y, singular))
        dy = jnp.multiply(x, _LOG_DERIVATIVE[log_fn](jnp.where(both, safe_arg, y)))
        return fn(x, y), jnp.add(jnp.multiply(tx, log_fn(y)), jnp.multiply(ty, dy))
    return fn


_LOG_DERIVATIVE = {jnp.log: lambda y: jnp.divide(1, y),
               jnp.log1p: lambda y: jnp.divide(1, jnp.add(1, y))}
_xlogy = _x_times(jnp.log, 0, 1)
_xlog1py = _x_times(jnp.log1p, -1, 0)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) along `axis`, computed stably: the maximum is taken out first (as a
    constant for differentiation, which does not change the value). With return_sign, returns
    (log|sum|, sign); otherwise a negative sum gives nan."""
    if where is not None:
        raise NotImplementedError("the 'where' argument to logsumexp is not supported")
    if b is not None:
        a, b = promote_to_inexact("logsumexp", a, b)
        a = jnp.where(jnp.not_equal(b, 0), a, -np.inf)
    else:
        (a,) = promote_to_inexact("logsumexp", a)
    amax = jnp.max(a, axis=axis, keepdims=True)
    amax = stop_gradient(jnp.where(jnp.isfinite(amax), amax, 0))
    exp_a = jnp.exp(jnp.subtract(a, amax))
    if b is not None:
        exp_a = jnp.multiply(exp_a, b)
    sumexp = jnp.sum(exp_a, axis=axis, keepdims=keepdims)
    sign = jnp.sign(sumexp)
    if return_sign or not dtypes.is_complex(sumexp.dtype):
        sumexp = jnp.abs(sumexp)
    shift = amax if keepdims else jnp.squeeze(amax, axis=axis)
    out = jnp.add(jnp.log(sumexp), shift)
    if return_sign:
        return out, sign
    if b is not None and not dtypes.is_complex(out.dtype):
        out = jnp.where(jnp.less(sign, 0), np.nan, out)
    return out


def log_softmax(x, axis=None):
    """x - logsumexp(x) along `axis`, computed from the max-shifted x."""
    (x,) = promote_to_inexact("log_softmax", x)
    shifted = jnp.subtract(x, stop_gradient(jnp.max(x, axis=axis, keepdims=True)))
    return jnp.subtract(shifted, jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True)))


__getattr__ = _module_getattr("spmd.scipy.special", "jax.scipy.special")
