"""resize and scale_and_translate, as jax.image: every resampled dimension contracts with its
weight matrix (one einsum); nearest-neighbour resizing gathers instead."""
from __future__ import annotations

import enum
from functools import partial
import string

import numpy as np

import spmd.numpy as jnp
from spmd import lax
from spmd.image import _kernels
from spmd.numpy._core import promote_to_inexact
from spmd.transforms.jit import jit


class ResizeMethod(enum.Enum):
    """Image resize method: NEAREST, LINEAR, LANCZOS3, LANCZOS5, CUBIC (Keys), CUBIC_PYTORCH
    (OpenCV's kernel with repeated edges when not antialiasing) or AREA (box filter)."""
    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str):
        for method, names in _NAMES.items():
            if s in names:
                return method
        raise ValueError(f'Unknown resize method "{s}"')


_NAMES = {
    ResizeMethod.NEAREST: ("nearest",),
    ResizeMethod.LINEAR: ("linear", "bilinear", "trilinear", "triangle"),
    ResizeMethod.LANCZOS3: ("lanczos3",),
    ResizeMethod.LANCZOS5: ("lanczos5",),
    ResizeMethod.CUBIC: ("cubic", "bicubic", "tricubic"),
    ResizeMethod.CUBIC_PYTORCH: ("cubic-pytorch", "bicubic-pytorch"),
    ResizeMethod.AREA: ("area",),
}

# method -> (kernel radius in input pixels, kernel)
_KERNELS = {
    ResizeMethod.LINEAR: (1, _kernels.triangle),
    ResizeMethod.LANCZOS3: (3, _kernels.lanczos(3.)),
    ResizeMethod.LANCZOS5: (5, _kernels.lanczos(5.)),
    ResizeMethod.CUBIC: (2, _kernels.keys_cubic),
    ResizeMethod.CUBIC_PYTORCH: (2, _kernels.opencv_cubic),
    ResizeMethod.AREA: (1, _kernels.AREA),
}


def _check_shape(image, shape):
    shape = tuple(int(d) for d in shape)
    if len(shape) != np.ndim(image):
        raise ValueError("shape must have length equal to the number of dimensions of x; "
                         f" {shape} vs {np.shape(image)}")
    return shape


def _method(method):
    return ResizeMethod.from_string(method) if isinstance(method, str) else method


def _resample(image, shape, spatial_dims, scales, translations, method, antialias, precision):
    if method == ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC  # PyTorch's kernel differs only without antialiasing
    radius, kernel = _KERNELS[method]
    edge_radius = radius if method == ResizeMethod.CUBIC_PYTORCH else None
    if not spatial_dims:
        return image
    letters = iter(string.ascii_letters)
    in_index = [next(letters) for _ in range(image.ndim)]
    out_index = list(in_index)
    operands, subscripts = [image], ["".join(in_index)]
    for i, dim in enumerate(spatial_dims):
        dim = dim % image.ndim
        weights = _kernels.weight_matrix(image.shape[dim], shape[dim], scales[i],
                                         translations[i], kernel, antialias, edge_radius)
        out_index[dim] = next(letters)
        operands.append(weights.astype(image.dtype))
        subscripts.append(in_index[dim] + out_index[dim])
    spec = ",".join(subscripts) + "->" + "".join(out_index)
    return jnp.einsum(spec, *operands, precision=precision)


def scale_and_translate(image, shape, spatial_dims, scale, translation, method,
                        antialias=True, precision=lax.Precision.HIGHEST):
    """Resamples `image` to `shape`: input location x lands at x * scale + translation in the
    `spatial_dims` (pixel centres at integer + 0.5); output pixels that map outside the input
    are 0. Differentiable in the image, the scale and the translation."""
    shape = _check_shape(image, shape)
    method = _method(method)
    if method == ResizeMethod.NEAREST:
        raise ValueError("Nearest neighbor resampling is not currently supported "
                         "for scale_and_translate.")
    image, = promote_to_inexact("scale_and_translate", image)
    scale, translation = promote_to_inexact("scale_and_translate", jnp.asarray(scale),
                                            jnp.asarray(translation))
    return _resample(image, shape, tuple(spatial_dims), scale, translation, method, antialias,
                     precision)


def _resize_nearest(image, shape):
    for dim, (m, n) in enumerate(zip(image.shape, shape)):
        if m == n:
            continue
        # in float32 as JAX computes it, so that ties round to the same pixel
        offsets = (np.arange(n, dtype=np.float32) + np.float32(0.5)) * np.float32(m)
        offsets = np.floor(offsets / np.float32(n)).astype(np.int32)
        image = jnp.take(image, offsets, axis=dim)
    return image


@partial(jit, static_argnames=("shape", "method", "antialias", "precision"))
def _resize_jitted(image, *, shape, method, antialias, precision):
    if method == ResizeMethod.NEAREST:
        return _resize_nearest(image, shape)
    image, = promote_to_inexact("resize", image)
    spatial_dims = tuple(d for d in range(image.ndim) if image.shape[d] != shape[d])
    scales = [1.0 if shape[d] == 0 else shape[d] / image.shape[d] for d in spatial_dims]
    return _resample(image, shape, spatial_dims, scales, [0.] * len(spatial_dims), method,
                     antialias, precision)


def resize(image, shape, method, antialias=True, precision=lax.Precision.HIGHEST):
    """Resizes `image` to `shape` (every dimension; leave batch and channel sizes as they are).
    NEAREST keeps the dtype; the other methods promote to an inexact dtype. `antialias` widens
    the kernel when downsampling."""
    shape = _check_shape(image, shape)
    return _resize_jitted(jnp.asarray(image), shape=shape, method=_method(method),
                          antialias=bool(antialias), precision=precision)
