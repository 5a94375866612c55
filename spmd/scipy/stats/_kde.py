"""gaussian_kde, as jax.scipy.stats.gaussian_kde: a weighted sum of Gaussians, one per data
point (columns of a (d, n) dataset), with covariance the data's weighted covariance times the
bandwidth factor squared (Scott's rule by default). A pytree, so it passes through jit and vmap."""
from __future__ import annotations

from functools import partial

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes, random
from spmd.numpy._core import check_array_like, promote_dtypes_inexact
from spmd.scipy import linalg, special
from spmd.transforms.api import vmap
from spmd.transforms.jit import jit
from spmd.tree_util import register_pytree_node_class

_FIELDS = ("neff", "dataset", "weights", "covariance", "inv_cov")


@register_pytree_node_class
class gaussian_kde:  # noqa: N801 (JAX's and SciPy's name)
    __slots__ = _FIELDS

    def __init__(self, dataset, bw_method=None, weights=None):
        check_array_like("gaussian_kde", dataset)
        dataset = jnp.atleast_2d(dataset)
        if dtypes.issubdtype(dataset.dtype, np.complexfloating):
            raise NotImplementedError("gaussian_kde does not support complex data")
        if not dataset.size > 1:
            raise ValueError("`dataset` input should have multiple elements.")
        d, n = dataset.shape
        if weights is None:
            dataset, = promote_dtypes_inexact("gaussian_kde", dataset)
            weights = jnp.full(n, 1.0 / n, dtype=dataset.dtype)
        else:
            check_array_like("gaussian_kde", weights)
            dataset, weights = promote_dtypes_inexact("gaussian_kde", dataset, weights)
            weights = jnp.atleast_1d(weights)
            if weights.ndim != 1:
                raise ValueError("`weights` input should be one-dimensional.")
            if weights.shape[0] != n:
                raise ValueError("`weights` input should be of length n")
            weights = weights / jnp.sum(weights)
        neff = 1 / jnp.sum(weights ** 2)
        self._set(neff=neff, dataset=dataset, weights=weights)
        if bw_method is None or (isinstance(bw_method, str) and bw_method == "scott"):
            factor = jnp.power(neff, -1. / (d + 4))
        elif isinstance(bw_method, str) and bw_method == "silverman":
            factor = jnp.power(neff * (d + 2) / 4.0, -1. / (d + 4))
        elif np.ndim(bw_method) == 0 and not isinstance(bw_method, str) and not callable(
                bw_method):
            factor = bw_method
        elif callable(bw_method):
            factor = bw_method(self)
        else:
            raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a "
                             "callable.")
        covariance, inv_cov = _kernel_covariance(dataset, weights, factor)
        self._set(covariance=covariance, inv_cov=inv_cov)

    def _set(self, **fields):
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"gaussian_kde is immutable: cannot set {name!r}")

    def tree_flatten(self):
        return tuple(getattr(self, f) for f in _FIELDS), None

    @classmethod
    def tree_unflatten(cls, aux_data, children):
        kde = cls.__new__(cls)
        kde._set(**dict(zip(_FIELDS, children)))
        return kde

    @property
    def d(self):
        return self.dataset.shape[0]

    @property
    def n(self):
        return self.dataset.shape[1]

    def _points(self, points):
        check_array_like("evaluate", points)
        points = jnp.asarray(points)
        if dtypes.issubdtype(points.dtype, np.complexfloating):
            raise NotImplementedError("gaussian_kde does not support complex coordinates")
        points = jnp.atleast_2d(points)
        d, m = points.shape
        if d != self.d:
            if d == 1 and m == self.d:  # one point given as a flat vector
                return points.reshape(self.d, 1)
            raise ValueError(f"points have dimension {d}, dataset has dimension {self.d}")
        return points

    def _log_terms(self, points):
        return _log_terms(*promote_dtypes_inexact(
            "gaussian_kde", self._points(points), self.dataset, self.weights, self.inv_cov))

    def evaluate(self, points):
        """The density at each point (columns of a (d, m) array)."""
        return jnp.sum(jnp.exp(self._log_terms(points)), axis=1)

    __call__ = pdf = evaluate

    def logpdf(self, x):
        return special.logsumexp(self._log_terms(x), axis=1)

    def integrate_gaussian(self, mean, cov):
        """The integral of this density times the Gaussian N(mean, cov)."""
        mean, cov = jnp.atleast_1d(jnp.squeeze(mean)), jnp.atleast_2d(cov)
        if mean.shape != (self.d,):
            raise ValueError(f"mean does not have dimension {self.d}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"covariance does not have dimension {self.d}")
        return _overlap(self.covariance + cov, self.dataset, self.weights, mean)

    def integrate_box_1d(self, low, high):
        """The probability mass in [low, high] (one-dimensional data only)."""
        if self.d != 1:
            raise ValueError("integrate_box_1d() only handles 1D pdfs")
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError("the limits of integration in integrate_box_1d must be scalars")
        sigma = jnp.squeeze(jnp.sqrt(self.covariance))
        upper = jnp.squeeze((high - self.dataset) / sigma)
        lower = jnp.squeeze((low - self.dataset) / sigma)
        return jnp.sum(self.weights * (special.ndtr(upper) - special.ndtr(lower)))

    def integrate_kde(self, other):
        """The integral of the product of this density and another KDE's."""
        if other.d != self.d:
            raise ValueError("KDEs are not the same dimensionality")
        small, large = (self, other) if self.n < other.n else (other, self)
        return _kde_overlap(self.covariance + other.covariance, large.dataset, large.weights,
                            small.dataset, small.weights)

    def resample(self, key, shape=()):
        """Draws of shape (d,) + shape: a datum picked by weight plus Gaussian noise of the
        kernel's covariance."""
        shape = (int(shape),) if np.ndim(shape) == 0 and shape != () else tuple(shape)
        return _resample(key, self.dataset, self.weights, self.covariance, shape=shape)

    def integrate_box(self, low_bounds, high_bounds, maxpts=None):
        raise NotImplementedError("only 1D box integrations are supported; use "
                                  "`integrate_box_1d`")

    def set_bandwidth(self, bw_method=None):
        raise NotImplementedError("dynamically changing the bandwidth method is not supported")


@jit
def _log_terms(points, data, weights, inv_cov):
    """(m, n): log(weight_i N(x_j; data_i, inv(inv_cov))) for each point j and datum i."""
    # with L L^T = inv_cov, the Mahalanobis distance is the norm of L^T (x - x_i)
    whitening = linalg.cholesky(inv_cov, lower=True)
    diff = jnp.matmul(points.T, whitening)[:, None, :] - jnp.matmul(data.T, whitening)[None]
    log_norm = (jnp.sum(jnp.log(jnp.diagonal(whitening)))
                - 0.5 * data.shape[0] * np.log(2 * np.pi))
    return jnp.log(weights)[None, :] + log_norm - 0.5 * jnp.sum(diff * diff, axis=-1)


def _overlap_raw(cov, target, weights, mean):
    """sum_i w_i N(mean; target_i, cov): the integral of the KDE times a Gaussian."""
    chol = linalg.cho_factor(cov)
    norm = 1.0 / (jnp.sqrt(2 * np.pi) ** cov.shape[0] * jnp.prod(jnp.diagonal(chol[0])))
    diff = target - mean[:, None]
    quad = jnp.sum(diff * linalg.cho_solve(chol, diff), axis=0)
    return norm * jnp.sum(jnp.exp(-0.5 * quad) * weights)


_overlap = jit(_overlap_raw)


@jit
def _kde_overlap(cov, target, weights, points, point_weights):
    per_point = vmap(lambda mean: _overlap_raw(cov, target, weights, mean), in_axes=1)(points)
    return jnp.sum(per_point * point_weights)


@jit
def _kernel_covariance(dataset, weights, factor):
    """The kernel's covariance and its inverse: NumPy's cov with aweights (ddof 1),
    sum_i w_i dx_i dx_i^T / (1 - sum_i w_i^2), times the bandwidth factor squared."""
    centred = dataset - jnp.sum(dataset * weights, axis=1, keepdims=True)
    data_cov = jnp.matmul(centred * weights, centred.T) / (1 - jnp.sum(weights ** 2))
    return data_cov * factor ** 2, jnp.linalg.inv(data_cov) / factor ** 2


@partial(jit, static_argnames=("shape",))
def _resample(key, dataset, weights, covariance, *, shape):
    pick_key, noise_key = random.split(key)
    picked = random.choice(pick_key, dataset.shape[1], shape=shape, p=weights)
    noise = random.multivariate_normal(noise_key, jnp.zeros(dataset.shape[0], covariance.dtype),
                                       covariance, shape=shape, dtype=dataset.dtype)
    return dataset[:, picked] + jnp.moveaxis(noise, -1, 0)
