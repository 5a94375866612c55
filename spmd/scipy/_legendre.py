"""The associated Legendre functions of the first kind P_l^m(x) (with the Condon-Shortley phase
(-1)^m, as SciPy), for all orders and degrees up to a static l_max, by the standard recurrences:
P_m^m = (-1)^m (2m - 1)!! (1 - x^2)^(m/2), P_(m+1)^m = (2m + 1) x P_m^m and
(l - m) P_l^m = (2l - 1) x P_(l-1)^m - (l + m - 1) P_(l-2)^m; normalized, each carries
sqrt((2l + 1) / (4 pi) (l - m)! / (l + m)!) (the spherical harmonics' factor), with the
recurrences rescaled so that nothing overflows. Results are indexed [m, l, point] as JAX's."""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.transforms import core, lax
from spmd.transforms.jit import jit


def _checked(name, m, n, z):
    dtype = core.get_aval(z).dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"z.dtype={np.dtype(dtype)} is not supported by {name}; pass float32 "
                        f"or float64 points")
    if core.get_aval(z).ndim != 1:
        raise ValueError(f"z must be a 1D array; got shape {core.get_aval(z).shape}")
    try:
        m, n = operator.index(m), operator.index(n)
    except TypeError:
        raise TypeError(f"{name}'s m and n must be static Python integers; got {m!r}, "
                        f"{n!r}") from None
    if m != n:
        raise NotImplementedError("Computations for m!=n are not yet supported.")
    return n


def _table(l_max, x, normalized):
    """rows[m][deg] = P_l^m(x) (normalized or not); zero where m > deg (degree)."""
    sine = jnp.sqrt(jnp.subtract(1, jnp.square(x)))
    rows = [[jnp.zeros_like(x)] * (l_max + 1) for _ in range(l_max + 1)]
    diagonal = jnp.full_like(x, 0.5 / math.sqrt(math.pi) if normalized else 1.0)
    for m in range(l_max + 1):
        if m:
            factor = -math.sqrt(1 + 0.5 / m) if normalized else 1.0 - 2 * m
            diagonal = jnp.multiply(diagonal, jnp.multiply(sine, factor))
        rows[m][m] = diagonal
        if m < l_max:
            rows[m][m + 1] = jnp.multiply(jnp.multiply(x, math.sqrt(2 * m + 3) if normalized
                                                       else 2 * m + 1), diagonal)
        for deg in range(m + 2, l_max + 1):
            if normalized:
                c0 = math.sqrt((4 * deg * deg - 1) / (deg * deg - m * m))
                c1 = math.sqrt((2 * deg + 1) * ((deg - 1) ** 2 - m * m)
                               / ((2 * deg - 3) * (deg * deg - m * m)))
            else:
                c0, c1 = (2 * deg - 1) / (deg - m), (deg + m - 1) / (deg - m)
            rows[m][deg] = jnp.subtract(jnp.multiply(jnp.multiply(x, c0), rows[m][deg - 1]),
                                      jnp.multiply(rows[m][deg - 2], c1))
    return rows


def _stack(rows):
    return jnp.stack([jnp.stack(row) for row in rows])


# compiled once per table size: the recurrences are (l_max + 1)^2 small operations
@functools.partial(jit, static_argnums=(0, 2))
def _values(l_max, z, normalized):
    return _stack(_table(l_max, z, normalized))


@functools.partial(jit, static_argnums=(0,))
def _values_and_slopes(l_max, z):
    rows = _table(l_max, z, False)
    inverse = jnp.divide(1, jnp.subtract(jnp.square(z), 1))
    slopes = [[jnp.multiply(jnp.subtract(jnp.multiply(jnp.multiply(z, deg), rows[m][deg]),
                                         jnp.multiply(rows[m][deg - 1], deg + m) if deg else 0),
                            inverse)
               for deg in range(l_max + 1)] for m in range(l_max + 1)]
    return _stack(rows), _stack(slopes)


def lpmn_values(m, n, z, is_normalized):
    """P_l^m(z) for orders m and degrees l up to n (m must equal n, as in JAX), of shape
    (n + 1, n + 1, len(z)); normalized for spherical harmonics where is_normalized."""
    return _values(_checked("lpmn_values", m, n, z), z, bool(is_normalized))


def lpmn(m, n, z):
    """(P_l^m(z), dP_l^m/dz) for orders m and degrees l up to n, each of shape
    (n + 1, n + 1, len(z)), for -1 < z < 1: the derivative is
    (l z P_l^m - (l + m) P_(l-1)^m) / (z^2 - 1)."""
    return _values_and_slopes(_checked("lpmn", m, n, z), z)


def sph_harm_y(n, m, theta, phi, diff_n=None, n_max=None):
    """The spherical harmonics Y_n^m(theta, phi) = N P_n^|m|(cos theta) e^(i m phi) (theta the
    colatitude, phi the longitude), Y_n^-m = (-1)^m conj(Y_n^m); n, m, theta and phi are
    broadcast to one vector of points. n_max, the largest degree, must be static: by default
    max(n), which needs a concrete n."""
    if diff_n is not None:
        raise NotImplementedError("The 'diff_n' argument to sph_harm_y is not supported; "
                                  "leave it None")
    if n_max is None:
        n_max = int(np.max(np.asarray(n)))
    try:
        n_max = operator.index(n_max)
    except TypeError:
        raise TypeError(f"sph_harm_y's n_max must be a static Python integer; got "
                        f"{n_max!r}") from None
    theta, phi = promote_to_inexact("sph_harm_y", theta, phi)
    n, m, theta, phi = (jnp.ravel(v) for v in jnp.broadcast_arrays(
        jnp.asarray(n), jnp.asarray(m), theta, phi))
    table = lpmn_values(n_max, n_max, jnp.cos(theta), True)
    order = jnp.clip(jnp.abs(m), 0, n_max)
    values = table[order, jnp.clip(n, 0, n_max), jnp.arange(theta.shape[0])]
    angle = jnp.multiply(order.astype(theta.dtype), phi)
    harmonics = lax.complex_(jnp.multiply(values, jnp.cos(angle)),
                             jnp.multiply(values, jnp.sin(angle)))
    negative = jnp.less(m, 0)
    sign = jnp.where(jnp.equal(jnp.remainder(order, 2), 0), 1.0, -1.0).astype(theta.dtype)
    return jnp.where(negative, jnp.multiply(jnp.conjugate(harmonics), sign), harmonics)
