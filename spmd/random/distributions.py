"""The closed-form samplers: each turns uniform or normal draws into another distribution by one
formula (inverse CDF or a transform of normals), with JAX's constants, clamps and operation
order, so the same key gives JAX's numbers. Each public function checks its arguments as JAX
does, then runs a core compiled once per (shape, dtype, layout)."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_shapes, broadcast_to
from spmd.numpy.linalg import norm
from spmd.random import impls
from spmd.random.keys import check_key
from spmd.random.samplers import (_bernoulli, _dtype_of_kind, _exponential, _normal_real,
                                  _uniform, canonical_shape, check_shape)
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit
from spmd.transforms.lax.slicing import index_in_dim


# ---------------------------------------------------------------- argument checks
def _float_dtype(name: str, dtype):
    return _dtype_of_kind(name, float if dtype is None else dtype, "float")


def _result_shape(name: str, shape, *params) -> tuple:
    """`shape`, or the parameters' broadcast shape when it is None (JAX's rule)."""
    param_shapes = [np.shape(p) for p in params]
    if shape is None:
        return broadcast_shapes(*param_shapes) if param_shapes else ()
    shape = canonical_shape(name, shape)
    check_shape(name, shape, *param_shapes)
    return shape


def _check_safe_to_cast(name: str, dtype, *params):
    """A parameter must not lose precision when cast to the sample dtype (float64 parameters
    for float32 samples under x64, say); Python scalars always fit."""
    for p in params:
        if isinstance(p, (bool, int, float)):
            continue
        have = dtypes.canonicalize(core.get_aval(asarray_value(p)).dtype)
        if have != dtype and dtypes.promote_types(have, dtype) != dtype:
            raise ValueError(f"In arguments to {name}, cannot safely cast argument of type "
                             f"{have} to {dtype}; pass the parameter as {dtype} or ask for "
                             f"dtype={have}")


def _checked(name: str, key, shape, dtype, *params):
    """(key data, shape, dtype, layout) of a float sampler with parameters, checked as JAX
    checks them: the key, a float dtype, the shape against the parameters' shapes, and
    parameters that cast to the dtype without loss."""
    key, layout = _key_and_layout(name, key)
    dtype = _float_dtype(name, dtype)
    shape = _result_shape(name, shape, *params)
    _check_safe_to_cast(name, dtype, *params)
    return key, shape, dtype, layout


def _key_and_layout(name: str, key):
    key, _, impl = check_key(name, key)
    return key, impls.layout(impl)


def _two_keys(key, layout):
    keys = impls.split(key, (2,), layout)
    return index_in_dim(keys, 0, keepdims=False), index_in_dim(keys, 1, keepdims=False)


def _const(value, dtype, shape=()):
    return lax.full(shape, np.asarray(value, dtype), dtype)


# ---------------------------------------------------------------- shape-only samplers
def cauchy(key, shape=(), dtype=None):
    """Standard Cauchy values: tan(pi * (u - 1/2)) for u uniform in [eps, 1)."""
    key, layout = _key_and_layout("cauchy", key)
    dtype = _float_dtype("cauchy", dtype)
    return _cauchy(key, canonical_shape("cauchy", shape), dtype, layout)


@partial(jit, static_argnums=(1, 2, 3))
def _cauchy(key, shape, dtype, layout):
    u = _uniform(key, shape, dtype, np.array(dtypes.finfo(dtype).eps, dtype), 1., layout)
    return lax.tan(lax.mul(_const(np.pi, dtype, shape), lax.sub(u, _const(0.5, dtype, shape))))


def laplace(key, shape=(), dtype=None):
    """Standard Laplace values: sign(u) * log1p(-|u|) for u uniform in (-1, 1)."""
    key, layout = _key_and_layout("laplace", key)
    dtype = _float_dtype("laplace", dtype)
    return _laplace(key, canonical_shape("laplace", shape), dtype, layout)


@partial(jit, static_argnums=(1, 2, 3))
def _laplace(key, shape, dtype, layout):
    lo = np.array(-1. + dtypes.finfo(dtype).epsneg, dtype)
    u = _uniform(key, shape, dtype, lo, 1., layout)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key, shape=(), dtype=None):
    """Standard logistic values: the logit log(u) - log1p(-u) for u uniform in [tiny, 1)."""
    key, layout = _key_and_layout("logistic", key)
    dtype = _float_dtype("logistic", dtype)
    return _logistic(key, canonical_shape("logistic", shape), dtype, layout)


@partial(jit, static_argnums=(1, 2, 3))
def _logistic(key, shape, dtype, layout):
    u = _uniform(key, shape, dtype, np.array(dtypes.finfo(dtype).tiny, dtype), 1., layout)
    return lax.sub(lax.log(u), lax.log1p(lax.neg(u)))


def rademacher(key, shape=(), dtype=None):
    """-1 or +1 with equal probability: 2 * bernoulli(key, 0.5) - 1 in `dtype` (default int)."""
    key, layout = _key_and_layout("rademacher", key)
    dtype = dtypes.canonicalize(int if dtype is None else dtype)
    return _rademacher(key, canonical_shape("rademacher", shape), dtype, layout)


@partial(jit, static_argnums=(1, 2, 3))
def _rademacher(key, shape, dtype, layout):
    half = _const(0.5, dtypes.default_float())
    coin = lax.convert_element_type(_bernoulli(key, half, shape, layout), dtype)
    return lax.convert_element_type(uf.subtract(uf.multiply(2, coin), 1), dtype)


def maxwell(key, shape=(), dtype=None):
    """One-sided Maxwell values: the length of a standard normal 3-vector."""
    key, layout = _key_and_layout("maxwell", key)
    dtype = _float_dtype("maxwell", dtype)
    return _maxwell(key, canonical_shape("maxwell", shape), dtype, layout)


@partial(jit, static_argnums=(1, 2, 3))
def _maxwell(key, shape, dtype, layout):
    return norm(_normal_real(key, shape + (3,), dtype, layout), axis=-1)


# ---------------------------------------------------------------- one-parameter samplers
def pareto(key, b, shape=None, dtype=None):
    """Pareto values of shape b on [1, inf): exp(e / b) for e exponential."""
    key, shape, dtype, layout = _checked("pareto", key, shape, dtype, b)
    return _pareto(key, b, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _pareto(key, b, shape, dtype, layout):
    b = lax.convert_element_type(b, dtype)
    return lax.exp(uf.divide(_exponential(key, shape, dtype, layout), b))


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None):  # noqa: B008  (JAX's default)
    """Log-normal values: exp(sigma * z) for z standard normal."""
    key, shape, dtype, layout = _checked("lognormal", key, shape, dtype, sigma)
    return _lognormal(key, sigma, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _lognormal(key, sigma, shape, dtype, layout):
    sigma = lax.convert_element_type(sigma, dtype)
    return lax.exp(uf.multiply(_normal_real(key, shape, dtype, layout), sigma))


def rayleigh(key, scale, shape=None, dtype=None):
    """Rayleigh values of the given scale: scale * sqrt(-2 log u)."""
    key, shape, dtype, layout = _checked("rayleigh", key, shape, dtype, scale)
    return _rayleigh(key, scale, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _rayleigh(key, scale, shape, dtype, layout):
    u = _uniform(key, shape, dtype, 0., 1., layout)
    scale = broadcast_to(lax.convert_element_type(scale, dtype), shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), _const(-2, dtype, shape))))


def wald(key, mean, shape=None, dtype=None):
    """Wald (inverse Gaussian, unit shape) values by Michael, Schucany and Haas's transform
    of one normal and one uniform draw, from two split keys."""
    key, shape, dtype, layout = _checked("wald", key, shape, dtype, mean)
    return _wald(key, mean, shape, dtype, layout)


@partial(jit, static_argnums=(2, 3, 4))
def _wald(key, mean, shape, dtype, layout):
    k1, k2 = _two_keys(key, layout)
    mean = broadcast_to(lax.convert_element_type(mean, dtype), shape)
    v = _normal_real(k1, shape, dtype, layout)
    z = _uniform(k2, shape, dtype, 0., 1., layout)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    sqrt_term = lax.sqrt(uf.add(uf.multiply(uf.multiply(4, mean), y), uf.multiply(mean_sq, y_sq)))
    x = uf.subtract(uf.add(mean, uf.divide(uf.multiply(mean_sq, y), 2)),
                    uf.multiply(uf.divide(mean, 2), sqrt_term))
    return lax.select(lax.le(z, uf.divide(mean, uf.add(mean, x))), x, uf.divide(mean_sq, x))


def geometric(key, p, shape=None, dtype=None):
    """Geometric values (trials up to the first success, from 1): floor(log u / log1p(-p)) + 1,
    with u == 0 read as 1 (JAX's)."""
    key, layout = _key_and_layout("geometric", key)
    dtype = np.dtype(int if dtype is None else dtype)
    if not dtypes.is_integer(dtype):
        raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dtype}")
    shape = _result_shape("geometric", shape, p)
    return _geometric(key, p, shape, dtypes.canonicalize(dtype), layout)


@partial(jit, static_argnums=(2, 3, 4))
def _geometric(key, p, shape, dtype, layout):
    if not dtypes.is_inexact(core.get_aval(p).dtype):
        p = lax.convert_element_type(p, dtypes.default_float())
    pdtype = core.get_aval(p).dtype
    u = _uniform(key, shape, pdtype, 0., 1., layout)
    u = lax.select(lax.eq(u, _const(0, pdtype, shape)), _const(1, pdtype, shape), u)
    log_one_minus_p = broadcast_to(lax.log1p(lax.neg(p)), shape)
    g = uf.add(lax.floor(lax.div(lax.log(u), log_one_minus_p)), 1)
    return lax.convert_element_type(g, dtype)


# ---------------------------------------------------------------- several parameters
def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Maxwell values with a random sign, times scale, plus loc. As in JAX, the result's shape
    is `shape` followed by the parameters' broadcast shape (and, when `shape` is empty, that
    broadcast shape twice)."""
    key, layout = _key_and_layout("double_sided_maxwell", key)
    dtype = _float_dtype("double_sided_maxwell", dtype)
    shape = canonical_shape("double_sided_maxwell", shape)
    params_shape = broadcast_shapes(np.shape(loc), np.shape(scale))
    shape = (shape or params_shape) + params_shape
    return _double_sided_maxwell(key, loc, scale, shape, dtype, layout)


@partial(jit, static_argnums=(3, 4, 5))
def _double_sided_maxwell(key, loc, scale, shape, dtype, layout):
    maxwell_key, sign_key = _two_keys(key, layout)
    magnitude = _maxwell(maxwell_key, shape, dtype, layout)
    sign = _rademacher(sign_key, shape, dtype, layout)
    return uf.add(uf.multiply(uf.multiply(sign, magnitude), scale), loc)


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull values by the inverse CDF: (-log1p(-u)) ** (1 / concentration) * scale."""
    key, layout = _key_and_layout("weibull_min", key)
    dtype = _float_dtype("weibull_min", dtype)
    shape = canonical_shape("weibull_min", shape)
    return _weibull_min(key, scale, concentration, shape, dtype, layout)


@partial(jit, static_argnums=(3, 4, 5))
def _weibull_min(key, scale, concentration, shape, dtype, layout):
    u = _uniform(key, shape, dtype, 0, 1, layout)
    return uf.multiply(uf.power(uf.negative(uf.log1p(uf.negative(u))),
                                uf.divide(1.0, concentration)), scale)


def triangular(key, left, mode, right, shape=None, dtype=None):
    """Triangular values on [left, right] peaking at mode, by the two-branch inverse CDF."""
    key, shape, dtype, layout = _checked("triangular", key, shape, dtype, left, mode, right)
    return _triangular(key, left, mode, right, shape, dtype, layout)


@partial(jit, static_argnums=(4, 5, 6))
def _triangular(key, left, mode, right, shape, dtype, layout):
    left, mode, right = (broadcast_to(lax.convert_element_type(x, dtype), shape)
                         for x in (left, mode, right))
    width = lax.sub(right, left)
    fc = lax.div(lax.sub(mode, left), width)
    u = _uniform(key, shape, dtype, 0., 1., layout)
    out1 = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, width), lax.sub(mode, left))))
    out2 = lax.sub(right, lax.sqrt(lax.mul(lax.mul(uf.subtract(1, u), width),
                                           lax.sub(right, mode))))
    return lax.select(lax.lt(u, fc), out1, out2)
