"""Activation functions and friends, as jax.nn has them. Their derivatives follow JAX's choices
where the function has a kink: relu'(0) = 0, relu6' is 0 at 0 and 6, leaky_relu'(0) = 1."""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import asarray_value, canonicalize_axis, promote_to_inexact
from spmd.scipy import special
from spmd.transforms.custom_derivatives import custom_jvp
from spmd.scipy.special import logsumexp  # noqa: F401  (jax.nn.logsumexp)
from spmd.transforms import core, dtypes, lax
from spmd.transforms.config import config
from spmd.transforms.stop_gradient import stop_gradient


def relu(x):
    """max(x, 0), with derivative 0 at 0 (as jax.nn.relu)."""
    x = asarray_value(x)
    return jnp.where(jnp.greater(x, 0), x, 0)


def relu6(x):
    """min(max(x, 0), 6), with derivative 0 at 0 and at 6 (as jax.nn.relu6)."""
    x = asarray_value(x)
    return jnp.where(jnp.greater_equal(x, 6), 6, jnp.where(jnp.greater(x, 0), x, 0))


def identity(x):
    """x itself, as an array."""
    return asarray_value(x)


tanh = jnp.tanh


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2, a smooth relu (arXiv:2112.11687)."""
    x, b = promote_to_inexact("squareplus", x, b)
    return jnp.divide(jnp.add(x, jnp.sqrt(jnp.add(jnp.multiply(x, x), b))), 2)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 between, x for x >= 1: smooth, convex, exactly 0 on the
    left."""
    (x,) = promote_to_inexact("sparse_plus", x)
    middle = jnp.divide(jnp.square(jnp.add(x, 1)), 4)
    return jnp.where(jnp.less_equal(x, -1), 0, jnp.where(jnp.greater_equal(x, 1), x, middle))


def sparse_sigmoid(x):
    """clip((x + 1) / 2, 0, 1), the derivative of sparse_plus."""
    (x,) = promote_to_inexact("sparse_sigmoid", x)
    return jnp.multiply(0.5, jnp.clip(jnp.add(x, 1), 0, 2))


def mish(x):
    """x * tanh(softplus(x)) (arXiv:1908.08681)."""
    (x,) = promote_to_inexact("mish", x)
    return jnp.multiply(x, jnp.tanh(softplus(x)))


def glu(x, axis=-1):
    """The first half of x along `axis` gated by the sigmoid of the second half."""
    (x,) = promote_to_inexact("glu", x)
    size = core.get_aval(x).shape[axis]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be divisible by 2, got {size}")
    first, second = jnp.split(x, 2, axis)
    return jnp.multiply(first, lax.logistic(second))


@custom_jvp
def log1mexp(x):
    """log(1 - exp(-x)) for x >= 0, accurate for small and large x (Maechler's switch at
    log 2); its derivative is 1 / expm1(x)."""
    (x,) = promote_to_inexact("log1mexp", x)
    return jnp.where(jnp.less(x, np.log(2.0)), jnp.log(jnp.negative(jnp.expm1(jnp.negative(x)))),
                     jnp.log1p(jnp.negative(jnp.exp(jnp.negative(x)))))


@log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1mexp(x), jnp.divide(t, jnp.expm1(x))


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


def _masked(name, x, where):
    """x (made inexact) and its mask broadcast to x's shape, or None without one."""
    (x,) = promote_to_inexact(name, x)
    if where is None:
        return x, None
    shape = core.get_aval(x).shape
    where = asarray_value(where)
    if core.get_aval(where).dtype != np.bool_:
        raise TypeError(f"{name}: where must be a boolean mask, got dtype "
                        f"{core.get_aval(where).dtype}")
    try:
        return x, jnp.broadcast_to(where, shape)
    except ValueError:
        raise ValueError(f"{name}: where of shape {core.get_aval(where).shape} does not "
                         f"broadcast to the input's shape {shape}") from None


def _shifted(x, axis, where):
    """x minus its maximum along `axis` (a constant for differentiation, which leaves value
    and derivative unchanged); masked-out entries become -inf and take no part in the max."""
    if where is not None:
        x = jnp.where(where, x, -np.inf)
    x_max = jnp.max(x, axis=axis, keepdims=True)
    x_max = stop_gradient(jnp.where(jnp.isfinite(x_max), x_max, 0))
    return jnp.subtract(x, x_max)


def softmax(x, axis=-1, where=None):
    """exp(x) / sum(exp(x)) along `axis`; with `where`, only the True entries take part and the
    others are 0."""
    x, where = _masked("softmax", x, where)
    if where is None and config.values["softmax_custom_jvp"]:
        return _softmax_with_rule(x, axis)
    if where is None:
        return special.softmax(x, axis=axis)
    unnormalized = jnp.where(where, jnp.exp(_shifted(x, axis, where)), 0)
    result = jnp.divide(unnormalized, jnp.sum(unnormalized, axis=axis, keepdims=True))
    return jnp.where(where, result, 0)


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def _softmax_with_rule(x, axis):
    """softmax with JAX's custom_jvp rule (jax_softmax_custom_jvp): the tangent is computed
    from the result alone, y * (t - sum(y * t)), which keeps no exp intermediates for the
    backward pass."""
    return special.softmax(x, axis=axis)


@_softmax_with_rule.defjvp
def _softmax_jvp(axis, primals, tangents):
    (x,), (t,) = primals, tangents
    y = _softmax_with_rule(x, axis)
    return y, jnp.multiply(y, jnp.subtract(t, jnp.sum(jnp.multiply(y, t), axis=axis,
                                                      keepdims=True)))


def log_softmax(x, axis=-1, where=None):
    """x - logsumexp(x) along `axis`; with `where`, only the True entries take part and the
    others are -inf."""
    x, where = _masked("log_softmax", x, where)
    if where is None:
        return special.log_softmax(x, axis=axis)
    shifted = _shifted(x, axis, where)
    total = jnp.sum(jnp.where(where, jnp.exp(shifted), 0), axis=axis, keepdims=True)
    return jnp.where(where, jnp.subtract(shifted, jnp.log(total)), -np.inf)


def logmeanexp(x, axis=None, where=None, keepdims=False):
    """log(mean(exp(x))) along `axis`: logsumexp(x) - log(n), n the count of (unmasked)
    entries reduced."""
    x, where = _masked("logmeanexp", x, where)
    if where is None:
        lse = special.logsumexp(x, axis=axis, keepdims=keepdims)
        count = math.prod(core.get_aval(x).shape) // math.prod(core.get_aval(lse).shape)
        return jnp.subtract(lse, np.log(count).astype(core.get_aval(lse).dtype))
    lse = special.logsumexp(jnp.where(where, x, -np.inf), axis=axis, keepdims=keepdims)
    count = jnp.sum(where, axis=axis, keepdims=keepdims).astype(core.get_aval(lse).dtype)
    return jnp.subtract(lse, jnp.log(count))


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
