"""The sine and cosine integrals (sici) and Fresnel's integrals (fresnel), after Numerical
Recipes (sec. 6.8, 6.9): power series at small |x|, and above it a complex continued fraction
(modified Lentz, a fixed number of terms) for E_1(i x) and for erfc's relative, from which both
integrals of a pair come at once. The derivatives are the integrands, not derivatives of the
loops."""
from __future__ import annotations


import numpy as np

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms import core, dtypes, lax
from spmd.transforms.custom_derivatives import custom_jvp

_EULER_GAMMA = 0.5772156649015329
_SERIES_TERMS = 40  # |x| <= the switch point: the terms fall as x^k / k! at most
_FRACTION_TERMS = 100
_SICI_SWITCH = 2.0
_FRESNEL_SWITCH = 1.5


def _complex(re, im):
    return lax.complex_(re, im)


def _lentz(b, step, terms):
    """h = 1 / (b_0 + a_1 / (b_1 + a_2 / (b_2 + ...))) by modified Lentz, where
    step(i, b) -> (a_i, b_i) gives the next partial numerator and denominator (complex b)."""
    big = float(dtypes.finfo(core.get_aval(jnp.real(b)).dtype).max) ** 0.5

    def body(i, carry):
        b, c, d, h = carry
        a, b = step(i, b)
        d = jnp.divide(1, jnp.add(jnp.multiply(a, d), b))
        c = jnp.add(b, jnp.divide(a, c))
        return b, c, d, jnp.multiply(h, jnp.multiply(c, d))
    d = jnp.divide(1, b)
    return lax.fori_loop(1, terms, body, (b, jnp.full_like(b, big), d, d))[3]


def _sici_series(x):
    """Si = sum_k (-1)^k x^(2k+1) / ((2k+1) (2k+1)!), Ci = gamma + log x + sum_k>=1
    (-1)^k x^(2k) / (2k (2k)!), together: term j holds x^j / j!."""
    def body(j, carry):
        term, si, ci = carry
        jf = j.astype(x.dtype)
        term = jnp.multiply(term, jnp.divide(x, jf))
        sign = jnp.where(jnp.equal(jnp.remainder(j // 2, 2), 0), 1, -1).astype(x.dtype)
        odd = jnp.equal(jnp.remainder(j, 2), 1)
        part = jnp.multiply(sign, jnp.divide(term, jf))
        return (term, jnp.where(odd, jnp.add(si, part), si),
                jnp.where(odd, ci, jnp.add(ci, part)))
    zero = jnp.zeros_like(x)
    _, si, ci = lax.fori_loop(1, 2 * _SERIES_TERMS, body, (jnp.ones_like(x), zero, zero))
    return si, jnp.add(jnp.add(ci, jnp.log(x)), _EULER_GAMMA)


def _sici_fraction(x):
    """E_1(i x) = -Ci(x) + i (Si(x) - pi/2) by its continued fraction, for x > 2."""
    def step(i, b):
        i = i.astype(x.dtype)
        return jnp.negative(jnp.square(i)), jnp.add(b, 2)
    h = _lentz(_complex(jnp.ones_like(x), x), step, _FRACTION_TERMS)
    h = jnp.multiply(h, _complex(jnp.cos(x), jnp.negative(jnp.sin(x))))
    return jnp.add(jnp.imag(h), np.pi / 2), jnp.negative(jnp.real(h))


@custom_jvp
def _sici(x):
    ax = jnp.abs(x)
    small = jnp.less_equal(ax, _SICI_SWITCH)
    si_s, ci_s = _sici_series(jnp.where(small, ax, 1))
    si_f, ci_f = _sici_fraction(jnp.where(small, 2 * _SICI_SWITCH, ax))
    si = jnp.multiply(jnp.sign(x), jnp.where(small, si_s, si_f))
    ci = jnp.where(jnp.equal(x, 0), -np.inf, jnp.where(small, ci_s, ci_f))
    infinite = jnp.isinf(x)
    si = jnp.where(infinite, jnp.multiply(jnp.sign(x), np.pi / 2), si)
    ci = jnp.where(infinite, jnp.where(jnp.greater(x, 0), 0, np.nan), ci)
    return si, ci


@_sici.defjvp
def _sici_jvp(primals, tangents):
    # Si' = sin x / x (1 at 0), Ci' = cos x / x
    (x,), (tx,) = primals, tangents
    zero = jnp.equal(x, 0)
    safe = jnp.where(zero, 1, x)
    dsi = jnp.where(zero, 1, jnp.divide(jnp.sin(safe), safe))
    return _sici(x), (jnp.multiply(tx, dsi), jnp.multiply(tx, jnp.divide(jnp.cos(x), x)))


def sici(x):
    """(Si(x), Ci(x)): the sine integral, odd, and the cosine integral of |x|, as JAX
    computes them (nan at -inf)."""
    (x,) = _real("sici", x)
    return _sici(x)


def _fresnel_series(x):
    """S = sum_k (-1)^k (pi/2)^(2k+1) x^(4k+3) / ((2k+1)! (4k+3)),
    C = sum_k (-1)^k (pi/2)^(2k) x^(4k+1) / ((2k)! (4k+1)): term j holds (pi x^2 / 2)^j / j!."""
    t = jnp.multiply(jnp.square(x), np.pi / 2)

    def body(j, carry):
        term, s, c = carry
        jf = j.astype(x.dtype)
        term = jnp.multiply(term, jnp.divide(t, jf))
        sign = jnp.where(jnp.equal(jnp.remainder(j // 2, 2), 0), 1, -1).astype(x.dtype)
        odd = jnp.equal(jnp.remainder(j, 2), 1)
        part = jnp.multiply(sign, jnp.divide(jnp.multiply(term, x), jnp.add(jnp.multiply(jf, 2),
                                                                            1)))
        return term, jnp.where(odd, jnp.add(s, part), s), jnp.where(odd, c, jnp.add(c, part))
    _, s, c = lax.fori_loop(1, _SERIES_TERMS, body, (jnp.ones_like(x), jnp.zeros_like(x), x))
    return s, c


def _fresnel_fraction(x):
    """C + i S = (1 + i)/2 (1 - e^(i pi x^2 / 2) (x - i x) h), h erfc's continued fraction at
    z = sqrt(pi)/2 (1 - i) x, for x > 1.5."""
    pix2 = jnp.multiply(jnp.square(x), np.pi)

    def step(i, b):
        n = jnp.subtract(jnp.multiply(i.astype(x.dtype), 2), 1)
        return jnp.negative(jnp.multiply(n, jnp.add(n, 1))), jnp.add(b, 4)
    h = _lentz(_complex(jnp.ones_like(x), jnp.negative(pix2)), step, _FRACTION_TERMS)
    h = jnp.multiply(_complex(x, jnp.negative(x)), h)
    half = jnp.multiply(pix2, 0.5)
    cs = jnp.multiply(_complex(jnp.full_like(x, 0.5), jnp.full_like(x, 0.5)),
                      jnp.subtract(1, jnp.multiply(_complex(jnp.cos(half), jnp.sin(half)), h)))
    return jnp.imag(cs), jnp.real(cs)


@custom_jvp
def _fresnel(x):
    ax = jnp.abs(x)
    small = jnp.less(ax, _FRESNEL_SWITCH)
    s_s, c_s = _fresnel_series(jnp.where(small, ax, 1))
    s_f, c_f = _fresnel_fraction(jnp.where(small, 2 * _FRESNEL_SWITCH, ax))
    sign = jnp.sign(x)
    s = jnp.where(jnp.isinf(x), 0.5, jnp.where(small, s_s, s_f))
    c = jnp.where(jnp.isinf(x), 0.5, jnp.where(small, c_s, c_f))
    return jnp.multiply(sign, s), jnp.multiply(sign, c)


@_fresnel.defjvp
def _fresnel_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    phase = jnp.multiply(jnp.square(x), np.pi / 2)
    return _fresnel(x), (jnp.multiply(tx, jnp.sin(phase)), jnp.multiply(tx, jnp.cos(phase)))


def fresnel(x):
    """(S(x), C(x)): the integrals from 0 to x of sin(pi t^2 / 2) and cos(pi t^2 / 2)."""
    (x,) = _real("fresnel", x)
    return _fresnel(x)


