"""jax.numpy's polynomial functions on coefficient arrays (highest power first): polyval,
polyadd, polysub, polymul, polydiv, polyder, polyint, poly and vander. (roots and polyfit need
eigenvalues and least squares, spmd.numpy.linalg's part.)"""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, promote_to_inexact, result_dtype, shape_of,
                              to_dtype)
from spmd.numpy._creation import zeros
from spmd.numpy._shape_more import trim_zeros
from spmd.transforms import lax


def _coefficients(name, p):
    p = sh.atleast_1d(asarray_value(p))
    if len(shape_of(p)) != 1:
        raise ValueError(f"{name}: coefficients must be 1-d, got shape {shape_of(p)}")
    return p


def _promote_pair(name, a, b):
    a, b = _coefficients(name, a), _coefficients(name, b)
    dtype, weak = result_dtype(a, b)
    return to_dtype(a, dtype, weak), to_dtype(b, dtype, weak)


def polyval(p, x, *, unroll=16):
    """p[0] * x**(n-1) + ... + p[n-1], by Horner's rule."""
    p, x = _coefficients("polyval", p), asarray_value(x)
    dtype, weak = result_dtype(p, x)
    p, x = to_dtype(p, dtype, weak), to_dtype(x, dtype, weak)
    out = uf.multiply(x, 0)
    for i in range(shape_of(p)[0]):
        out = uf.add(uf.multiply(out, x), p[i])
    return out


def _pad_front(p, n):
    return sh.concatenate([zeros(n - shape_of(p)[0], p.dtype), p]) if shape_of(p)[0] < n else p


def polyadd(a1, a2):
    a, b = _promote_pair("polyadd", a1, a2)
    n = max(shape_of(a)[0], shape_of(b)[0])
    return uf.add(_pad_front(a, n), _pad_front(b, n))


def polysub(a1, a2):
    a, b = _promote_pair("polysub", a1, a2)
    n = max(shape_of(a)[0], shape_of(b)[0])
    return uf.subtract(_pad_front(a, n), _pad_front(b, n))


def polymul(a1, a2, *, trim_leading_zeros=False):
    """The product's coefficients: the full convolution of a1 and a2."""
    a, b = _promote_pair("polymul", a1, a2)
    if trim_leading_zeros:
        a, b = trim_zeros(a, "f"), trim_zeros(b, "f")
    na, nb = shape_of(a)[0], shape_of(b)[0]
    out = zeros(na + nb - 1, a.dtype)
    for j in range(nb):  # add a * b[j], shifted by j
        out = out.at[j:j + na].add(uf.multiply(a, b[j]))
    return out


def polydiv(u, v, *, trim_leading_zeros=False):
    """(quotient, remainder) of u / v; v's leading coefficient must not be 0."""
    u, v = _promote_pair("polydiv", u, v)
    (u,), (v,) = promote_to_inexact("polydiv", u), promote_to_inexact("polydiv", v)
    nu, nv = shape_of(u)[0], shape_of(v)[0]
    if nv == 0:
        raise ValueError("polydiv: the divisor must have at least one coefficient")
    scale = uf.divide(1, v[0])
    q = zeros(max(nu - nv + 1, 1), u.dtype)
    r = u
    for k in range(nu - nv + 1):
        d = uf.multiply(scale, r[k])
        q = q.at[k].set(d)
        r = r.at[k:k + nv].add(uf.negative(uf.multiply(d, v)))
    rem = r[max(nu - nv + 1, 0):] if nu >= nv else r
    return q, rem


def polyder(p, m=1):
    """The coefficients of the m-th derivative."""
    m = operator.index(m)
    if m < 0:
        raise ValueError(f"polyder: order of derivative must be non-negative, got {m}")
    p = _coefficients("polyder", p)
    for _ in range(m):
        n = shape_of(p)[0]
        p = uf.multiply(p[:-1], np.arange(n - 1, 0, -1).astype(np.int32))
    return p


def polyint(p, m=1, k=None):
    """The coefficients of the m-th antiderivative; k gives the integration constants."""
    m = operator.index(m)
    if m < 0:
        raise ValueError(f"polyint: order of integral must be non-negative, got {m}")
    (p,) = promote_to_inexact("polyint", _coefficients("polyint", p))
    ks = np.zeros(m) if k is None else np.broadcast_to(np.asarray(k), (m,))
    for i in range(m):
        n = shape_of(p)[0]
        p = sh.concatenate([uf.divide(p, np.arange(n, 0, -1)), sh.atleast_1d(
            asarray_value(ks[i], p.dtype))])
    return p


def poly(seq_of_zeros):
    """The monic polynomial with these roots (1-d input)."""
    z = sh.atleast_1d(asarray_value(seq_of_zeros))
    if len(shape_of(z)) != 1:
        raise NotImplementedError("poly of a matrix (its characteristic polynomial) needs "
                                  "eigenvalues; pass the roots as a 1-d array")
    (z,) = promote_to_inexact("poly", z)
    out = sh.atleast_1d(asarray_value(1, z.dtype))
    for i in range(shape_of(z)[0]):
        out = polymul(out, sh.stack([asarray_value(1, z.dtype), uf.negative(z[i])]))
    return out


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix: columns x**(N-1), ..., x**0 (reversed when increasing)."""
    x = asarray_value(x)
    if len(shape_of(x)) != 1:
        raise ValueError(f"vander: x must be 1-d, got shape {shape_of(x)}")
    N = shape_of(x)[0] if N is None else operator.index(N)
    if N < 0:
        raise ValueError(f"vander: N must be non-negative, got {N}")
    powers = np.arange(N) if increasing else np.arange(N - 1, -1, -1)
    return uf.power(lax.reshape(x, (shape_of(x)[0], 1)), powers.astype(np.int32))
