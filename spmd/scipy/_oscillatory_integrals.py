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
_SERIES_TERMS = 40  # 2 * 40 terms; below the switch points t^j / j! falls past 1e-17
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


def _parity_series(x, t, weight):
    """(sum over odd j, sum over even j >= 2) of (-1)^(j // 2) weight(j, t^j / j!), j < 2 *
    _SERIES_TERMS: the two alternating series of a pair of integrals, summed together."""
    def body(j, carry):
        term, odd_sum, even_sum = carry
        jf = j.astype(x.dtype)
        term = jnp.multiply(term, jnp.divide(t, jf))
        sign = jnp.where(jnp.equal(jnp.remainder(j // 2, 2), 0), 1, -1).astype(x.dtype)
        part = jnp.multiply(sign, weight(jf, term))
        odd = jnp.equal(jnp.remainder(j, 2), 1)
        return (term, jnp.where(odd, jnp.add(odd_sum, part), odd_sum),
                jnp.where(odd, even_sum, jnp.add(even_sum, part)))
    zero = jnp.zeros_like(x)
    return lax.fori_loop(1, 2 * _SERIES_TERMS, body, (jnp.ones_like(x), zero, zero))[1:]


def _sici_series(x):
    """Si = sum_k (-1)^k x^(2k+1) / ((2k+1) (2k+1)!), Ci = gamma + log x + sum_k>=1
    (-1)^k x^(2k) / (2k (2k)!)."""
    si, ci = _parity_series(x, x, lambda j, term: jnp.divide(term, j))
    return si, jnp.add(jnp.add(ci, jnp.log(x)), _EULER_GAMMA)


def _sici_fraction(x):
    """E_1(i x) = -Ci(x) + i (Si(x) - pi/2) by its continued fraction, for x > 2."""
    def step(i, b):
        i = i.astype(x.dtype)
        return jnp.negative(jnp.square(i)), jnp.add(b, 2)
    h = _lentz(_complex(jnp.ones_like(x), x), step, _FRACTION_TERMS)
    h = jnp.multiply(h, _complex(jnp.cos(x), jnp.negative(jnp.sin(x))))
    return jnp.add(jnp.imag(h), np.pi / 2), jnp.negative(jnp.real(h))


def _of_abs(x, switch, series, fraction):
    """A pair of integrals at |x|: by `series` up to `switch`, by `fraction` above it, each fed
    a harmless argument where the other is taken."""
    ax = jnp.abs(x)
    small = jnp.less_equal(ax, switch)
    s1, s2 = series(jnp.where(small, ax, 1))
    f1, f2 = fraction(jnp.where(small, 2 * switch, ax))
    return jnp.where(small, s1, f1), jnp.where(small, s2, f2)


@custom_jvp
def _sici(x):
    si, ci = _of_abs(x, _SICI_SWITCH, _sici_series, _sici_fraction)
    si = jnp.multiply(jnp.sign(x), si)
    ci = jnp.where(jnp.equal(x, 0), -np.inf, ci)
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
    C = sum_k (-1)^k (pi/2)^(2k) x^(4k+1) / ((2k)! (4k+1))."""
    t = jnp.multiply(jnp.square(x), np.pi / 2)
    s, c = _parity_series(x, t, lambda j, term: jnp.divide(jnp.multiply(term, x),
                                                          jnp.add(jnp.multiply(j, 2), 1)))
    return s, jnp.add(c, x)


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
    s, c = _of_abs(x, _FRESNEL_SWITCH, _fresnel_series, _fresnel_fraction)
    sign = jnp.sign(x)
    s, c = jnp.where(jnp.isinf(x), 0.5, s), jnp.where(jnp.isinf(x), 0.5, c)
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


