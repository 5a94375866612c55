"""The Faddeeva function w(z) = exp(-z^2) erfc(-i z), by Weideman's rational approximation
(SIAM J. Numer. Anal. 31, 1994) with N = 32 terms in the upper half plane, and the reflection
w(z) = 2 exp(-z^2) - w(-z) below it. The coefficients are computed here, once, by Weideman's
FFT recipe."""
from __future__ import annotations

import math

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.transforms import core, dtypes, lax
from spmd.transforms.custom_derivatives import custom_jvp

_N = 32


def _weideman_coefficients(n):
    """L = sqrt(n / sqrt 2) and the coefficients a_n..a_1 (highest power first) of the
    polynomial p(Z) in w(z) ~ 2 p(Z) / (L - i z)^2 + 1 / (sqrt(pi) (L - i z)),
    Z = (L + i z) / (L - i z): the Fourier coefficients of exp(-t^2) (L^2 + t^2) on
    t = L tan(theta / 2)."""
    m = 2 * n
    scale = math.sqrt(n / math.sqrt(2))
    k = np.arange(-m + 1, m)
    t = scale * np.tan(k * np.pi / m / 2)
    f = np.concatenate([[0.0], np.exp(-t ** 2) * (scale ** 2 + t ** 2)])
    a = np.real(np.fft.fft(np.fft.fftshift(f))) / (2 * m)
    return scale, a[1:n + 1][::-1]


_L, _COEFFICIENTS = _weideman_coefficients(_N)


def _upper(z):
    """w(z) for Im z >= 0."""
    iz = jnp.multiply(z, 1j)
    denominator = jnp.subtract(_L, iz)
    big_z = jnp.divide(jnp.add(_L, iz), denominator)
    p = jnp.zeros_like(z)
    for c in _COEFFICIENTS:  # Horner's rule, highest power first
        p = jnp.add(jnp.multiply(p, big_z), c)
    return jnp.add(jnp.divide(jnp.multiply(p, 2), jnp.square(denominator)),
                   jnp.divide(1 / math.sqrt(math.pi), denominator))


@custom_jvp
def _wofz(z):
    upper = jnp.greater_equal(jnp.imag(z), 0)
    w = _upper(jnp.where(upper, z, jnp.negative(z)))
    reflected = jnp.subtract(jnp.multiply(jnp.exp(jnp.negative(jnp.square(z))), 2), w)
    return jnp.where(upper, w, reflected)


@_wofz.defjvp
def _wofz_jvp(primals, tangents):
    # w'(z) = -2 z w(z) + 2 i / sqrt(pi)
    (z,), (tz,) = primals, tangents
    w = _wofz(z)
    slope = jnp.add(jnp.multiply(jnp.multiply(z, w), -2), 2j / math.sqrt(math.pi))
    return w, jnp.multiply(tz, slope)


def wofz(z):
    """The Faddeeva function exp(-z^2) erfc(-i z), complex; real inputs become complex of
    their precision (float32 -> complex64)."""
    (z,) = promote_to_inexact("wofz", z)
    aval = core.get_aval(z)
    if not dtypes.is_complex(aval.dtype):
        z = lax.complex_(z, jnp.zeros_like(z))
    return _wofz(z)
