"""The samplers of random vectors and matrices: multivariate_normal (a factor of the covariance
times standard normals) and orthogonal (Haar-distributed, by QR of a Gaussian matrix with the
signs of R's diagonal moved into Q, as JAX does: Mezzadri 2007)."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, result_dtype, to_dtype
from spmd.numpy._einsum import einsum
from spmd.numpy import linalg
from spmd.random.distributions import _key_and_layout
from spmd.random.samplers import _dtype_of_kind, _normal, canonical_shape, check_shape
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit

_METHODS = ("svd", "eigh", "cholesky")


def _promote_inexact(*args):
    """The arguments in one inexact dtype (ints become the default float), shapes kept."""
    dtype, weak = result_dtype(*args)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float()
    return [to_dtype(x, dtype, weak) for x in args]


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Normal vectors with the given mean (..., n) and covariance (..., n, n): mean + F z, where
    F F^T = cov comes from `method` ("cholesky", "eigh" or "svd")."""
    key, layout = _key_and_layout("multivariate_normal", key)
    mean, cov = _promote_inexact(asarray_value(mean), asarray_value(cov))
    if method not in _METHODS:
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dtype = core.get_aval(mean).dtype if dtype is None else _dtype_of_kind(
        "multivariate_normal", dtype, "float")
    if not dtypes.is_float(dtype):
        raise ValueError(f"dtype argument to `multivariate_normal` must be a float dtype, got "
                         f"{dtype}")
    mean_shape, cov_shape = core.get_aval(mean).shape, core.get_aval(cov).shape
    if len(mean_shape) < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{len(mean_shape)}")
    if len(cov_shape) < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{len(cov_shape)}")
    n = mean_shape[-1]
    if cov_shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
                         f"but got cov.shape == {cov_shape}.")
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean_shape[:-1], cov_shape[:-2]))
    else:
        shape = canonical_shape("multivariate_normal", shape)
        check_shape("normal", shape, mean_shape[:-1], cov_shape[:-2])
    return _multivariate_normal(key, mean, cov, shape, np.dtype(dtype), method, layout)


@partial(jit, static_argnums=(3, 4, 5, 6))
def _multivariate_normal(key, mean, cov, shape, dtype, method, layout):
    if method == "svd":
        u, s, _ = linalg.svd(cov)
        factor = uf.multiply(u, uf.sqrt(lax.expand_dims(s, (core.get_aval(s).ndim - 1,))))
    elif method == "eigh":
        w, v = linalg.eigh(cov)
        factor = uf.multiply(v, uf.sqrt(lax.expand_dims(w, (core.get_aval(w).ndim - 1,))))
    else:
        factor = linalg.cholesky(cov)
    z = _normal(key, shape + core.get_aval(mean).shape[-1:], dtype, layout)
    return uf.add(mean, einsum("...ij,...j->...i", factor, z))


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """A random (semi-)orthogonal matrix of shape shape + (n, m), uniform (Haar) on O(n) when
    m == n; unitary for complex dtypes."""
    key, layout = _key_and_layout("orthogonal", key)
    dtype = _dtype_of_kind("orthogonal", float if dtype is None else dtype, "inexact")
    shape = canonical_shape("orthogonal", shape)
    m = n if m is None else m
    for name, v in (("n", n), ("m", m)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise TypeError(f"orthogonal: {name} must be a non-negative int known while "
                            f"tracing, got {v!r}")
    return _orthogonal(key, int(n), int(m), shape, dtype, layout)


@partial(jit, static_argnums=(1, 2, 3, 4, 5))
def _orthogonal(key, n, m, shape, dtype, layout):
    z = _normal(key, (*shape, max(n, m), min(n, m)), dtype, layout)
    q, r = linalg.qr(z)
    d = linalg.diagonal(r)
    x = uf.multiply(q, lax.expand_dims(uf.sign(d), (core.get_aval(d).ndim - 1,)))
    return linalg.matrix_transpose(x) if n < m else x
