"""spmd.nn.initializers: jax.nn.initializers, the layer-weight initializers of Keras and Sonnet.

Each builder returns `init(key, shape, dtype=None)`. They draw from spmd.random, whose streams
are JAX's, and follow JAX's arithmetic step for step (the sample times a scale made with
`jnp.array(scale, dtype)`), so the same key gives the same weights as in JAX."""
from __future__ import annotations

import math
import typing
from typing import Protocol

import numpy as np

import spmd.numpy as jnp
from spmd import random
from spmd.transforms import dtypes

__all__ = ["Initializer", "constant", "delta_orthogonal", "glorot_normal", "glorot_uniform",
           "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal",
           "lecun_uniform", "normal", "ones", "orthogonal", "truncated_normal", "uniform",
           "variance_scaling", "xavier_normal", "xavier_uniform", "zeros"]

# The standard deviation of a standard normal truncated to (-2, 2), and of the complex normal
# whose modulus is truncated at 2: variance_scaling divides by it so that the truncated samples
# have the variance asked for.
_TRUNCATED_STD = .87962566103423978
_COMPLEX_TRUNCATED_STD = .95311164380491208

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


@typing.runtime_checkable
class Initializer(Protocol):
    """What every builder here returns: called as init(key, shape, dtype=None)."""

    def __call__(self, key, shape, dtype=None, out_sharding=None):
        raise NotImplementedError


def _dtype(dtype):
    return dtypes.default_float() if dtype is None else np.dtype(dtype)


def _no_sharding(name, out_sharding):
    if out_sharding is not None:
        raise NotImplementedError(f"spmd.nn.initializers.{name}: out_sharding is not supported; "
                                  "place the result with spmd.device_put_replicated or pmap")


def _shape(name, shape):
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"spmd.nn.initializers.{name}: shape must be a sequence of integers, got "
                        f"{shape!r}") from None


def zeros(key, shape, dtype=None, out_sharding=None):
    """An array of zeros (the key is not used)."""
    _no_sharding("zeros", out_sharding)
    return jnp.zeros(_shape("zeros", shape), _dtype(dtype))


def ones(key, shape, dtype=None, out_sharding=None):
    """An array of ones (the key is not used)."""
    _no_sharding("ones", out_sharding)
    return jnp.ones(_shape("ones", shape), _dtype(dtype))


def constant(value, dtype=None):
    """An initializer that fills its arrays with `value`."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding("constant", out_sharding)
        return jnp.full(_shape("constant", shape), value, _dtype(dtype))
    return init


def _scaled_sample(name, draw, scale, default_dtype):
    """An initializer of draw(key, shape, dtype) times `scale` made an array of that dtype
    (JAX's arithmetic, so that the products round as JAX's do)."""
    def init(key, shape, dtype=default_dtype, out_sharding=None):
        _no_sharding(name, out_sharding)
        dtype = _dtype(dtype)
        return jnp.multiply(draw(key, shape, dtype), jnp.array(scale, dtype))
    return init


def uniform(scale=1e-2, dtype=None):
    """An initializer of values uniform in [0, scale)."""
    return _scaled_sample("uniform", random.uniform, scale, dtype)


def normal(stddev=1e-2, dtype=None):
    """An initializer of normal values with mean 0 and standard deviation `stddev`."""
    return _scaled_sample("normal", random.normal, stddev, dtype)


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """An initializer of standard normal values truncated to (lower, upper), then multiplied by
    `stddev` (without the variance correction that variance_scaling applies, as in JAX)."""
    def draw(key, shape, dtype):
        return random.truncated_normal(key, lower, upper, shape, dtype)
    return _scaled_sample("truncated_normal", draw, stddev, dtype)


def _size(shape, axes):
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a weight of `shape`: the input and output sizes, each times the
    receptive field (the product of the axes that are neither input, output nor batch)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         "weights tensor with default in_axis. Must be at least 2D or specify "
                         "in_axis explicitly.")
    try:
        in_size, out_size = _size(shape, in_axis), _size(shape, out_axis)
        batch_size = _size(shape, batch_axis)
    except IndexError:
        raise ValueError(f"in_axis={in_axis}, out_axis={out_axis} or batch_axis={batch_axis} is "
                         f"out of range for a weight of shape {shape}") from None
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _real_dtype(dtype):
    return np.dtype(np.float64 if dtype == np.complex128 else np.float32)


def _complex_uniform(key, shape, dtype):
    """Uniform on the disk of radius sqrt(2) (mean 0, variance 1), as JAX draws it."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    r = jnp.sqrt(jnp.multiply(2, random.uniform(key_r, shape, real))).astype(dtype)
    theta = jnp.multiply(2 * np.pi, random.uniform(key_theta, shape, real).astype(dtype))
    return jnp.multiply(r, jnp.exp(jnp.multiply(1j, theta)))


def _complex_truncated_normal(key, upper, shape, dtype):
    """The complex normal of variance 1 with its modulus truncated at `upper` (inverse CDF of
    the modulus, uniform phase)."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    mass = jnp.subtract(1, jnp.exp(jnp.array(-(upper ** 2), dtype)))
    t = jnp.multiply(mass, random.uniform(key_r, shape, real).astype(dtype))
    r = jnp.sqrt(jnp.negative(jnp.log(jnp.subtract(1, t))))
    theta = jnp.multiply(2 * np.pi, random.uniform(key_theta, shape, real).astype(dtype))
    return jnp.multiply(r, jnp.exp(jnp.multiply(1j, theta)))


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """An initializer of zero-mean values with variance scale / n, n the fan of `mode`
    ("fan_in", "fan_out", "fan_avg": their mean, "fan_geo_avg": their geometric mean), drawn
    from `distribution`: "truncated_normal" (cut at two standard deviations, then rescaled to
    the variance asked for), "normal", or "uniform" (on an interval, or a disk for complex)."""
    if mode not in _MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode!r}; expected one "
                         f"of {', '.join(_MODES)}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: "
                         f"{distribution!r}; expected one of {', '.join(_DISTRIBUTIONS)}")

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding("variance_scaling", out_sharding)
        shape = _shape("variance_scaling", shape)
        dtype = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = jnp.array(scale / denominator, dtype=dtype)
        floating = not dtypes.is_complex(dtype)
        if distribution == "truncated_normal":
            if floating:
                stddev = jnp.divide(jnp.sqrt(variance), jnp.array(_TRUNCATED_STD, dtype))
                return jnp.multiply(random.truncated_normal(key, -2, 2, shape, dtype), stddev)
            stddev = jnp.divide(jnp.sqrt(variance), jnp.array(_COMPLEX_TRUNCATED_STD, dtype))
            return jnp.multiply(_complex_truncated_normal(key, 2, shape, dtype), stddev)
        if distribution == "normal":
            return jnp.multiply(random.normal(key, shape, dtype), jnp.sqrt(variance))
        if floating:
            return jnp.multiply(random.uniform(key, shape, dtype, -1),
                                jnp.sqrt(jnp.multiply(3, variance)))
        return jnp.multiply(_complex_uniform(key, shape, dtype), jnp.sqrt(variance))
    return init


def _fan_initializer(scale, mode, distribution, doc):
    def builder(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis=in_axis, out_axis=out_axis,
                                batch_axis=batch_axis, dtype=dtype)
    builder.__doc__ = f"variance_scaling({scale}, {mode!r}, {distribution!r}): {doc}"
    return builder


glorot_uniform = _fan_initializer(1.0, "fan_avg", "uniform", "Glorot (Xavier) uniform.")
glorot_normal = _fan_initializer(1.0, "fan_avg", "truncated_normal", "Glorot (Xavier) normal.")
lecun_uniform = _fan_initializer(1.0, "fan_in", "uniform", "LeCun uniform.")
lecun_normal = _fan_initializer(1.0, "fan_in", "truncated_normal", "LeCun normal.")
he_uniform = _fan_initializer(2.0, "fan_in", "uniform", "He (Kaiming) uniform.")
he_normal = _fan_initializer(2.0, "fan_in", "truncated_normal", "He (Kaiming) normal.")
for _name in ("glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal", "he_uniform",
              "he_normal"):
    globals()[_name].__name__ = globals()[_name].__qualname__ = _name
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def _random_orthogonal(key, n, m, dtype):
    """An n x m matrix with orthonormal columns (n >= m) or rows, uniform under the Haar measure:
    the Q of a Gaussian matrix's QR, its columns' signs fixed by R's diagonal (JAX's
    random.orthogonal, so the same key gives the same matrix)."""
    z = random.normal(key, (max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r)
    q = jnp.multiply(q, jnp.divide(d, jnp.abs(d).astype(d.dtype))[None, :])
    return jnp.conj(q.T) if n < m else q


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """An initializer of weights whose columns (along `column_axis`) are orthonormal, or whose
    rows are when there are fewer of them, times `scale`."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding("orthogonal", out_sharding)
        shape = _shape("orthogonal", shape)
        dtype = _dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer requires at least a 2D shape, got {shape}")
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        n_cols = shape[column_axis]
        q = _random_orthogonal(key, math.prod(shape) // n_cols, n_cols, dtype)
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        return jnp.multiply(jnp.array(scale, dtype), jnp.moveaxis(q, -1, column_axis))
    return init


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """An initializer of 3-, 4- or 5-d convolution kernels that are zero except at the spatial
    centre, where they hold an orthogonal (in, out) matrix (arXiv:1806.05393)."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding("delta_orthogonal", out_sharding)
        shape = _shape("delta_orthogonal", shape)
        dtype = _dtype(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"Delta orthogonal initializer requires a 3D, 4D or 5D shape, got "
                             f"{shape}")
        if shape[-1] < shape[-2]:
            raise ValueError(f"`fan_in` must be less or equal than `fan_out`, got shape {shape} "
                             "(the last axis is fan_out, the one before fan_in)")
        matrix = orthogonal(scale=scale, column_axis=column_axis, dtype=dtype)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return jnp.zeros(shape, dtype).at[centre].set(matrix)
    return init
