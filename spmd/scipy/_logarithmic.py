"""Functions of logarithms, as jax.scipy.special has them: the entropy terms entr, rel_entr and
kl_div, and the Box-Cox transforms boxcox and boxcox1p."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms.custom_derivatives import custom_jvp


@custom_jvp
def _neg_xlogx(x):
    zero = jnp.equal(x, 0)
    return jnp.where(zero, 0, jnp.negative(jnp.multiply(x, jnp.log(jnp.where(zero, 1, x)))))


@_neg_xlogx.defjvp
def _neg_xlogx_jvp(primals, tangents):
    # -(log x + 1), which is +inf at 0 (the slope of -x log x there), not nan
    (x,), (tx,) = primals, tangents
    return _neg_xlogx(x), jnp.multiply(tx, jnp.negative(jnp.add(jnp.log(x), 1)))


def entr(x):
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0."""
    (x,) = _real("entr", x)
    return jnp.where(jnp.less(x, 0), -np.inf, _neg_xlogx(x))


def rel_entr(p, q):
    """p log(p / q) for p, q > 0; 0 where p == 0 and q >= 0; inf elsewhere."""
    p, q = _real("rel_entr", p, q)
    both_positive = jnp.logical_and(jnp.greater(p, 0), jnp.greater(q, 0))
    p_zero = jnp.logical_and(jnp.equal(p, 0), jnp.greater_equal(q, 0))
    safe_p, safe_q = jnp.where(both_positive, p, 1), jnp.where(both_positive, q, 1)
    value = jnp.multiply(safe_p, jnp.subtract(jnp.log(safe_p), jnp.log(safe_q)))
    return jnp.where(both_positive, value, jnp.where(p_zero, 0, np.inf))


def kl_div(p, q):
    """p log(p / q) - p + q, rel_entr's terms made nonnegative."""
    p, q = _real("kl_div", p, q)
    return jnp.add(jnp.subtract(rel_entr(p, q), p), q)


def _boxcox_of_log(log_x, lmbda):
    # (x^lmbda - 1) / lmbda through expm1 (accurate for small lmbda * log x). At lmbda == 0 the
    # value is log x and the term lmbda log(x)^2 / 2 (zero there) gives the slope in lmbda.
    zero = jnp.equal(lmbda, 0)
    safe = jnp.where(zero, 1, lmbda)
    at_zero = jnp.add(log_x, jnp.multiply(jnp.multiply(lmbda, jnp.square(log_x)), 0.5))
    return jnp.where(zero, at_zero, jnp.divide(jnp.expm1(jnp.multiply(safe, log_x)), safe))


def boxcox(x, lmbda):
    """The Box-Cox transform (x^lmbda - 1) / lmbda, log(x) where lmbda == 0."""
    x, lmbda = _real("boxcox", x, lmbda)
    return _boxcox_of_log(jnp.log(x), lmbda)


def boxcox1p(x, lmbda):
    """boxcox(1 + x, lmbda), accurate for small x."""
    x, lmbda = _real("boxcox1p", x, lmbda)
    return _boxcox_of_log(jnp.log1p(x), lmbda)
