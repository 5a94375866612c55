"""Activation functions and friends, as jax.nn has them. Their derivatives follow JAX's choices
where the function has a kink: relu'(0) = 0, relu6' is 0 at 0 and 6, leaky_relu'(0) = 1."""
from __future__ import annotations

import operator

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import asarray_value, canonicalize_axis, promote_to_inexact
from spmd.scipy import special
from spmd.scipy.special import logsumexp  # noqa: F401  (jax.nn.logsumexp)
from spmd.transforms import core, dtypes, lax


def relu(x):
    """max(x, 0), with derivative 0 at 0 (as jax.nn.relu)."""
    x = asarray_value(x)
    return jnp.where(jnp.greater(x, 0), x, 0)


def relu6(x):
    """min(max(x, 0), 6), with derivative 0 at 0 and at 6 (as jax.nn.relu6)."""
    x = asarray_value(x)
    return jnp.where(jnp.greater_equal(x, 6), 6, jnp.where(jnp.greater(x, 0), x, 0))


def sigmoid(x):
    (x,) = promote_to_inexact("sigmoid", x)
    return lax.logistic(x)


def silu(x):
    """x * sigmoid(x)."""
    (x,) = promote_to_inexact("silu", x)
    return jnp.multiply(x, lax.logistic(x))


swish = silu


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return jnp.logaddexp(x, 0)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return jnp.negative(softplus(jnp.negative(x)))


def gelu(x, approximate: bool = True):
    """Gaussian error linear unit: the tanh approximation by default (as JAX), or the exact
    x * (1 + erf(x / sqrt(2))) / 2."""
    (x,) = promote_to_inexact("gelu", x)
    if approximate:
        cube = jnp.multiply(x, jnp.multiply(x, x))
        inner = jnp.multiply(np.sqrt(2 / np.pi), jnp.add(x, jnp.multiply(0.044715, cube)))
        return jnp.multiply(x, jnp.multiply(0.5, jnp.add(1, jnp.tanh(inner))))
    return jnp.multiply(jnp.multiply(x, 0.5), jnp.add(1, lax.erf(jnp.multiply(x, 1 / np.sqrt(2)))))


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    (x,) = promote_to_inexact("elu", x)
    positive = jnp.greater(x, 0)
    safe = jnp.where(positive, 0, x)  # keeps expm1 of large x out of the unused branch
    return jnp.where(positive, x, jnp.multiply(alpha, jnp.expm1(safe)))


def celu(x, alpha=1.0):
    (x,) = promote_to_inexact("celu", x)
    return jnp.where(jnp.greater(x, 0), x,
                     jnp.multiply(alpha, jnp.expm1(jnp.divide(jnp.minimum(x, 0), alpha))))


def selu(x):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return jnp.multiply(scale, elu(x, alpha))


def leaky_relu(x, negative_slope=1e-2):
    """x for x >= 0, negative_slope * x otherwise."""
    (x,) = promote_to_inexact("leaky_relu", x)
    return jnp.where(jnp.greater_equal(x, 0), x, jnp.multiply(negative_slope, x))


def hard_tanh(x):
    return jnp.clip(x, -1, 1)


def hard_sigmoid(x):
    return jnp.divide(relu6(jnp.add(x, 3)), 6.0)


def hard_silu(x):
    return jnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def soft_sign(x):
    (x,) = promote_to_inexact("soft_sign", x)
    return jnp.divide(x, jnp.add(jnp.abs(x), 1))


def _check_unsupported(name, where, initial):
    if where is not None or initial is not None:
        raise NotImplementedError(f"the 'where' and 'initial' arguments to spmd.nn.{name} are "
                                  "not supported")


def softmax(x, axis=-1, where=None, initial=None):
    """exp(x) / sum(exp(x)) along `axis` (spmd.scipy.special.softmax, which computes it)."""
    _check_unsupported("softmax", where, initial)
    return special.softmax(x, axis=axis)


def log_softmax(x, axis=-1, where=None, initial=None):
    """x - logsumexp(x) along `axis` (spmd.scipy.special.log_softmax, which computes it)."""
    _check_unsupported("log_softmax", where, initial)
    return special.log_softmax(x, axis=axis)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5):
    """(x - mean) / sqrt(variance + epsilon), the statistics taken along `axis` by default."""
    (x,) = promote_to_inexact("standardize", x)
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True)
    if variance is None:
        centered = jnp.subtract(x, mean)
        variance = jnp.mean(jnp.multiply(centered, centered), axis, keepdims=True)
    return jnp.multiply(jnp.subtract(x, mean), lax.rsqrt(jnp.add(variance, epsilon)))


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """x's integers as one-hot vectors of length num_classes along a new axis `axis`;
    out-of-range values give all zeros."""
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        if isinstance(num_classes, core.Tracer):
            num_classes.to_concrete("one_hot's num_classes (it fixes the output shape)")
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}") from None
    x = asarray_value(x)
    dtype = dtypes.canonicalize(dtypes.float64 if dtype is None else dtype)
    shape = core.get_aval(x).shape
    ax = canonicalize_axis(axis, len(shape) + 1)
    out_shape = shape[:ax] + (num_classes,) + shape[ax:]
    classes = lax.broadcasted_iota(np.int32, out_shape, ax)
    kept = tuple(d for d in range(len(out_shape)) if d != ax)
    xb = lax.broadcast_in_dim(x, out_shape, kept)
    return lax.convert_element_type(jnp.equal(xb, classes), dtype)
