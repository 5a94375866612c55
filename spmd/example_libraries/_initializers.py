"""The four jax.nn.initializers that stax uses as defaults (glorot_normal, normal, ones, zeros),
with JAX's arithmetic on spmd.random's streams, so that one key gives JAX's parameters.

Kept to stax's needs: spmd.nn.initializers (every initializer) supersedes this module; once it is
in the tree, stax imports these four names from there and this file goes."""
import math

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes, random

# the standard deviation of a unit normal truncated to (-2, 2): dividing by it makes the
# truncated samples' standard deviation the one asked for
_TRUNCATED_STDDEV = .87962566103423978


def _float_dtype(dtype):
    return dtypes.canonicalize_dtype(np.float64 if dtype is None else dtype)


def zeros(key, shape, dtype=None, out_sharding=None):
    return jnp.zeros(shape, _float_dtype(dtype))


def ones(key, shape, dtype=None, out_sharding=None):
    return jnp.ones(shape, _float_dtype(dtype))


def normal(stddev=1e-2, dtype=None):
    """Normal values of standard deviation `stddev`."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        dtype = _float_dtype(dtype)
        return random.normal(key, shape, dtype) * jnp.array(stddev, dtype)
    return init


def _size(shape, axes):
    return shape[axes] if isinstance(axes, int) else math.prod(shape[i] for i in axes)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Truncated normal values of variance 2 / (fan_in + fan_out), the fans counted over the
    kernel's receptive field (its axes other than in, out and batch), as JAX counts them."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        shape = tuple(int(d) for d in shape)
        dtype = _float_dtype(dtype)
        if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
            raise ValueError(f"glorot_normal needs a weights shape of at least 2 dimensions to "
                             f"count its fans, got {shape}; pass in_axis to name the input axis.")
        in_size, out_size = _size(shape, in_axis), _size(shape, out_axis)
        receptive_field = math.prod(shape) / in_size / out_size / _size(shape, batch_axis)
        fan_avg = (in_size * receptive_field + out_size * receptive_field) / 2
        variance = jnp.array(1.0 / fan_avg, dtype=dtype)
        stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STDDEV, dtype)
        return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
    return init
