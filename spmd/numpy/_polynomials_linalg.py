"""jax.numpy.polyfit and roots: the polynomial functions that need least squares and
eigenvalues (spmd.numpy.linalg), kept apart from the coefficient arithmetic in _polynomials."""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy import linalg
from spmd.numpy._core import asarray_value, promote_joined, promote_to_inexact, shape_of
from spmd.numpy._creation import eye, zeros
from spmd.numpy._polynomials import vander


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least-squares coefficients (highest power first) of the degree-`deg` polynomial through
    (x, y); full=True adds (residuals, rank, singular values, rcond), cov=True the covariance of
    the coefficients (cov="unscaled" leaves it unscaled by the residual variance)."""
    x, y = (promote_to_inexact("polyfit", v)[0] for v in promote_joined("polyfit", [x, y]))
    deg = operator.index(deg)
    order = deg + 1
    if deg < 0:
        raise ValueError(f"polyfit: expected deg >= 0, got {deg}")
    if len(shape_of(x)) != 1 or shape_of(x)[0] == 0:
        raise TypeError(f"polyfit: expected a non-empty 1-d x, got shape {shape_of(x)}")
    if len(shape_of(y)) not in (1, 2):
        raise TypeError(f"polyfit: expected 1-d or 2-d y, got shape {shape_of(y)}")
    if shape_of(x)[0] != shape_of(y)[0]:
        raise TypeError(f"polyfit: expected x and y of the same length, got {shape_of(x)[0]} "
                        f"and {shape_of(y)[0]}")
    n = shape_of(x)[0]
    if rcond is None:
        rcond = n * float(np.finfo(x.dtype).eps)
    lhs, rhs = vander(x, order), y
    if w is not None:
        (w,) = promote_to_inexact("polyfit", w)
        if shape_of(w) != (n,):
            raise TypeError(f"polyfit: expected w of shape ({n},), got {shape_of(w)}")
        lhs = uf.multiply(lhs, w[:, None])
        rhs = uf.multiply(rhs, w if len(shape_of(rhs)) == 1 else w[:, None])
    # Scaling the columns to unit norm keeps the Vandermonde system well conditioned.
    scale = uf.sqrt(uf.multiply(lhs, lhs).sum(axis=0))
    lhs = uf.divide(lhs, scale)
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    c = sh.transpose(uf.divide(sh.transpose(c), scale))
    if full:
        return c, resids, rank, s, asarray_value(rcond)
    if not cov:
        return c
    vbase = uf.divide(linalg.inv(sh.transpose(lhs) @ lhs), uf.multiply(scale[:, None], scale))
    if cov == "unscaled":
        fac = asarray_value(1.0, x.dtype)
    else:
        if n <= order:
            raise ValueError("polyfit: the number of data points must exceed order to scale "
                             "the covariance matrix; pass cov='unscaled' or more points")
        fac = uf.divide(resids, n - order)
    if len(shape_of(y)) == 1:
        return c, uf.multiply(vbase, fac.reshape(-1)[0] if shape_of(fac) else fac)
    return c, uf.multiply(vbase[:, :, None], fac)


def roots(p, *, strip_zeros=True):
    """The (complex) roots of the polynomial with coefficients p (highest power first): the
    eigenvalues of its companion matrix, and a zero root per trailing zero coefficient. Leading
    zeros are stripped (p must then be concrete); with strip_zeros=False p may be traced, and a
    leading zero gives non-finite roots."""
    (p,) = promote_to_inexact("roots", p)
    if len(shape_of(p)) != 1:
        raise ValueError(f"roots: input must be a rank-1 array, got shape {shape_of(p)}")
    if not strip_zeros:
        return _companion_roots(p)
    nonzero = np.flatnonzero(np.asarray(p) != 0)  # needs concrete values, as in NumPy
    complex_dtype = np.result_type(p.dtype, np.complex64)
    if nonzero.size == 0:
        return zeros((0,), complex_dtype)
    trailing = shape_of(p)[0] - 1 - int(nonzero[-1])
    found = _companion_roots(p[nonzero[0]:nonzero[-1] + 1])
    return sh.concatenate([found, zeros((trailing,), complex_dtype)])


def _companion_roots(p):
    n = shape_of(p)[0] - 1
    complex_dtype = np.result_type(p.dtype, np.complex64)
    if n < 1:
        return zeros((0,), complex_dtype)
    # Companion matrix: -p[1:]/p[0] on the first row, ones on the subdiagonal.
    companion = eye(n, k=-1, dtype=p.dtype).at[0].set(uf.negative(uf.divide(p[1:], p[0])))
    return linalg.eigvals(companion).astype(complex_dtype)
