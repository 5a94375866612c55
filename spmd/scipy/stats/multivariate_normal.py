"""The multivariate normal N(mean, cov), as jax.scipy.stats.multivariate_normal: x and mean
of shape (..., n), cov a scalar (times the identity) or (..., n, n); a 0-d mean is the
univariate case with variance cov."""
from __future__ import annotations

import math

import spmd.numpy as jnp
from spmd.transforms import core, dtypes

_LOG_2PI = math.log(2 * math.pi)

__all__ = ["logpdf", "pdf"]


def _same_inexact_dtype(*args):
    """The arguments in one inexact dtype, each keeping its own shape."""
    dtype = jnp.result_type(*args)
    dtype = dtype if dtypes.is_inexact(dtype) else dtypes.default_float()
    return [jnp.asarray(a, dtype) for a in args]


def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise NotImplementedError("multivariate_normal.logpdf: allow_singular is not supported; "
                                  "pass a positive definite cov")
    x, mean, cov = _same_inexact_dtype(x, mean, cov)
    mean_shape, cov_shape = core.get_aval(mean).shape, core.get_aval(cov).shape
    if not mean_shape:
        return jnp.multiply(-0.5, jnp.add(jnp.divide(jnp.square(jnp.subtract(x, mean)), cov),
                                          jnp.add(_LOG_2PI, jnp.log(cov))))
    n = mean_shape[-1]
    y = jnp.subtract(x, mean)
    if not cov_shape:
        quadratic = jnp.divide(jnp.sum(jnp.square(y), axis=-1), cov)
        return jnp.multiply(-0.5, jnp.add(quadratic, jnp.multiply(n, jnp.add(_LOG_2PI, jnp.log(
            cov)))))
    if len(cov_shape) < 2 or cov_shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf got incompatible shapes: mean {mean_shape} "
                         f"needs cov of shape (..., {n}, {n}) or a scalar, got {cov_shape}")
    # cov = L L^T: the quadratic form is |L^-1 y|^2 and log det cov = 2 sum log diag L
    chol = jnp.linalg.cholesky(cov)
    batch = jnp.broadcast_shapes(core.get_aval(y).shape[:-1], cov_shape[:-2])
    chol = jnp.broadcast_to(chol, batch + (n, n))
    z = jnp.linalg.solve(chol, jnp.broadcast_to(y, batch + (n,))[..., None])[..., 0]
    log_det_half = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return jnp.subtract(jnp.multiply(-0.5, jnp.add(jnp.sum(jnp.square(z), axis=-1),
                                                   n * _LOG_2PI)), log_det_half)


def pdf(x, mean, cov):
    return jnp.exp(logpdf(x, mean, cov))
