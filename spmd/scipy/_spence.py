"""spence(x) = integral from 1 to x of log(t) / (1 - t) dt = Li2(1 - x), the dilogarithm, for
x >= 0. Li2(y) for y <= 1 is brought to its power series sum_k z^k / k^2 at |z| <= 1/2 by the
reflection Li2(y) = pi^2/6 - log y log(1 - y) - Li2(1 - y), Landen's identity
Li2(y) = -Li2(y / (y - 1)) - log(1 - y)^2 / 2 and the inversion
Li2(y) = -pi^2/6 - log(-y)^2 / 2 - Li2(1 / y)."""
from __future__ import annotations

import math

import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms import lax
from spmd.transforms.custom_derivatives import custom_jvp

_PI2_6 = math.pi ** 2 / 6
_TERMS = 60  # 0.5^60 < 1e-18


def _series(z):
    def body(k, carry):
        power, total = carry
        power = jnp.multiply(power, z)
        return power, jnp.add(total, jnp.divide(power, jnp.square(k.astype(z.dtype))))
    return lax.fori_loop(1, _TERMS + 1, body, (jnp.ones_like(z), jnp.zeros_like(z)))[1]


def _reflected(y):
    """Li2(y) for 1/2 < y < 1."""
    return jnp.subtract(jnp.subtract(_PI2_6, jnp.multiply(jnp.log(y), jnp.log1p(jnp.negative(y)))),
                        _series(jnp.subtract(1, y)))


def _dilog(y):
    """Li2(y) for y < 1, each case fed a harmless y where it is not taken."""
    def pick(mask, y, safe):
        return jnp.where(mask, y, safe)
    a = jnp.logical_and(jnp.greater_equal(y, -0.5), jnp.less_equal(y, 0.5))
    b = jnp.greater(y, 0.5)
    c = jnp.logical_and(jnp.greater_equal(y, -1), jnp.less(y, -0.5))
    d = jnp.logical_and(jnp.greater_equal(y, -2), jnp.less(y, -1))
    e = jnp.less(y, -2)
    ya, yb, yc, yd, ye = (pick(a, y, 0.0), pick(b, y, 0.75), pick(c, y, -0.75),
                          pick(d, y, -1.5), pick(e, y, -4.0))
    landen_c = jnp.negative(jnp.add(_series(jnp.divide(yc, jnp.subtract(yc, 1))),
                                    jnp.multiply(jnp.square(jnp.log1p(jnp.negative(yc))), 0.5)))
    landen_d = jnp.negative(jnp.add(_reflected(jnp.divide(yd, jnp.subtract(yd, 1))),
                                    jnp.multiply(jnp.square(jnp.log1p(jnp.negative(yd))), 0.5)))
    inverted = jnp.subtract(jnp.subtract(-_PI2_6, jnp.multiply(jnp.square(jnp.log(
        jnp.negative(ye))), 0.5)), _series(jnp.divide(1, ye)))
    return jnp.where(a, _series(ya), jnp.where(b, _reflected(yb), jnp.where(
        c, landen_c, jnp.where(d, landen_d, inverted))))


@custom_jvp
def _spence(x):
    out = _dilog(jnp.subtract(1, jnp.where(jnp.greater(x, 0), x, 1)))
    out = jnp.where(jnp.equal(x, 0), _PI2_6, out)
    out = jnp.where(jnp.equal(x, np.inf), -np.inf, out)
    return jnp.where(jnp.logical_or(jnp.less(x, 0), jnp.isnan(x)), np.nan, out)


@_spence.defjvp
def _spence_jvp(primals, tangents):
    # log(x) / (1 - x), whose limit at x = 1 is -1
    (x,), (tx,) = primals, tangents
    one = jnp.equal(x, 1)
    slope = jnp.divide(jnp.log(jnp.where(one, 2, x)), jnp.subtract(1, jnp.where(one, 2, x)))
    return _spence(x), jnp.multiply(tx, jnp.where(one, -1, slope))


def spence(x):
    """The dilogarithm in SciPy's convention: the integral from 1 to x of log(t) / (1 - t), for
    real x >= 0 (nan below)."""
    (x,) = _real("spence", x)
    return _spence(x)
