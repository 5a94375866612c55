"""NumPy's window functions (bartlett, blackman, hamming, hanning, kaiser) in the default float
dtype, as in JAX."""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _elementwise_more as em
from spmd.numpy import _ufuncs as uf
from spmd.numpy._creation import arange, ones
from spmd.transforms import dtypes


def _positions(M):
    """(n, M): the sample positions 0..M-1 as floats; M < 1 gives an empty window."""
    M = operator.index(M)
    return arange(max(M, 0), dtype=dtypes.default_float()), M


def _cosine_window(M, *coefficients):
    n, M = _positions(M)
    if M <= 1:
        return ones(max(M, 0), dtypes.default_float())
    out = None
    for k, a in enumerate(coefficients):
        term = uf.multiply(a, uf.cos(uf.multiply(n, 2 * np.pi * k / (M - 1))))
        out = term if out is None else uf.add(out, term)
    return out


def hanning(M):
    return _cosine_window(M, 0.5, -0.5)


def hamming(M):
    return _cosine_window(M, 0.54, -0.46)


def blackman(M):
    return _cosine_window(M, 0.42, -0.5, 0.08)


def bartlett(M):
    n, M = _positions(M)
    if M <= 1:
        return ones(max(M, 0), dtypes.default_float())
    half = (M - 1) / 2
    return uf.subtract(1, uf.abs(uf.divide(uf.subtract(n, half), half)))


def kaiser(M, beta):
    n, M = _positions(M)
    if M <= 1:
        return ones(max(M, 0), dtypes.default_float())
    half = (M - 1) / 2
    ratio = uf.divide(uf.subtract(n, half), half)
    inner = uf.sqrt(uf.maximum(uf.subtract(1, uf.square(ratio)), 0))
    peak = em.i0(uf.multiply(beta, ones((), ratio.dtype)))
    return uf.divide(em.i0(uf.multiply(beta, inner)), peak)
