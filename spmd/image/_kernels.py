"""The resampling kernels of jax.image, as functions of the distance |x| (in input pixels)
between a sample point and an input pixel centre, and the weight matrix one spatial dimension
contracts with."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes


def lanczos(radius):
    def kernel(x):
        y = radius * jnp.sin(np.pi * x) * jnp.sin(np.pi * x / radius)
        # sinc(x) sinc(x / radius) is 1 at 0; below 1e-3 the quotient loses its digits
        out = jnp.where(x > 1e-3, jnp.divide(y, jnp.where(x != 0, np.pi**2 * x**2, 1)), 1)
        return jnp.where(x > radius, 0., out)
    return kernel


def keys_cubic(x):
    """Keys' cubic convolution kernel with a = -0.5."""
    out = ((1.5 * x - 2.5) * x) * x + 1.
    out = jnp.where(x >= 1., ((-0.5 * x + 2.5) * x - 4.) * x + 2., out)
    return jnp.where(x >= 2., 0., out)


def opencv_cubic(x):
    """The cubic kernel with a = -0.75, as OpenCV and PyTorch use."""
    a = -0.75
    out = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    out = jnp.where(x >= 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, out)
    return jnp.where(x >= 2.0, 0.0, out)


def triangle(x):
    return jnp.maximum(0, 1 - jnp.abs(x))


AREA = object()  # the box filter: weights are overlaps of pixel intervals, not a function of x

# weights whose column sums to less than this are treated as no sample at all
_TINY_SUM = 1000. * float(np.finfo(np.float32).eps)


def _normalized(weights):
    total = jnp.sum(weights, axis=0, keepdims=True)
    return jnp.where(jnp.abs(total) > _TINY_SUM,
                     jnp.divide(weights, jnp.where(total != 0, total, 1)), 0)


def weight_matrix(input_size, output_size, scale, translation, kernel, antialias, edge_radius):
    """The (input_size, output_size) matrix of weights: column j resamples output pixel j.
    Output pixel j's centre maps back to input coordinate (j + 0.5 - translation) / scale - 0.5.
    Antialiasing widens the kernel by 1 / scale when downsampling. With `edge_radius` (an int)
    the edge pixels repeat outward that far (PyTorch's bicubic); without, samples off the
    image get zero weight."""
    dtype = dtypes.result_type(scale, translation)
    inv_scale = 1. / scale
    kernel_scale = jnp.maximum(inv_scale, 1.) if antialias else 1.
    sample = ((jnp.arange(output_size, dtype=dtype) + 0.5) * inv_scale
              - translation * inv_scale - 0.5)
    pad = edge_radius or 0
    positions = jnp.arange(-pad, input_size + pad, dtype=dtype)
    if kernel is AREA:
        left = jnp.arange(output_size, dtype=dtype) * inv_scale - translation * inv_scale
        right = left + inv_scale
        pixel_left = jnp.arange(input_size, dtype=dtype)
        weights = jnp.maximum(0.0, jnp.minimum(right[None, :], pixel_left[:, None] + 1.0)
                              - jnp.maximum(left[None, :], pixel_left[:, None]))
    else:
        weights = kernel(jnp.abs(sample[None, :] - positions[:, None]) / kernel_scale)
    if edge_radius is not None:
        # fold the weights of the padded positions onto the edge pixels they repeat
        clamped = np.clip(np.arange(-pad, input_size + pad), 0, input_size - 1)
        fold = np.zeros((input_size, clamped.size), np.float32)
        fold[clamped, np.arange(clamped.size)] = 1
        return _normalized(jnp.matmul(jnp.asarray(fold, dtype), weights))
    weights = _normalized(weights)
    inside = jnp.logical_and(sample >= -0.5, sample <= input_size - 0.5)
    return jnp.where(inside[None, :], weights, 0)
