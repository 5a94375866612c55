"""Array.view(dtype) and Array.byteswap(), as JAX's: the bits reinterpreted through
lax.bitcast_convert_type, with the last axis resized when the item size changes (bool counts as 8
bits; complex as its real and imaginary parts side by side)."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _creation, _shape, _ufuncs as uf
from spmd.transforms import dtypes, lax

asarray = _creation.asarray


def _bits(dtype) -> int:
    return 8 * np.dtype(dtype).itemsize


def view(self, dtype=None, type=None):
    """The array's bits as `dtype`: same shape for the same item size, else the last axis
    scaled by the ratio of the sizes."""
    if type is not None:
        raise NotImplementedError("`type` argument of array.view() is not supported.")
    x = asarray(self)
    if dtype is None:
        return x
    dtype = dtypes.canonicalize(np.dtype(dtype))
    n_in, n_out = _bits(x.dtype), _bits(dtype)
    if x.ndim == 0:
        if n_in != n_out:
            raise ValueError("view() of a 0d array is only supported if the itemsize is "
                             "unchanged.")
        return _shape.squeeze(view(_shape.expand_dims(x, 0), dtype))
    if (x.shape[-1] * n_in) % n_out != 0:
        raise ValueError("When changing to a larger dtype, its size must be a divisor of the "
                         "total size in bytes of the last axis of the array.")
    if x.dtype == dtype:
        return x
    if x.dtype == np.bool_:
        return view(_creation.astype(x, np.uint8), dtype)
    if np.issubdtype(x.dtype, np.complexfloating):  # (re, im) pairs along the last axis
        parts = _shape.stack([uf.real(x), uf.imag(x)], axis=-1)
        return view(_shape.reshape(parts, x.shape[:-1] + (2 * x.shape[-1],)), dtype)
    if dtype == np.bool_:
        return _creation.astype(view(x, np.uint8), np.bool_)
    if np.issubdtype(dtype, np.complexfloating):
        parts = view(x, np.finfo(dtype).dtype)
        # packed, not added: arithmetic would flush subnormal parts (most bit patterns) to 0
        return lax.complex_(parts[..., 0::2], parts[..., 1::2])
    if n_in < n_out:  # bitcast takes the trailing group of narrow items as one wide item
        grouped = _shape.reshape(x, x.shape[:-1] + (x.shape[-1] * n_in // n_out, n_out // n_in))
        return lax.bitcast_convert_type(grouped, dtype)
    out = lax.bitcast_convert_type(x, dtype)
    if n_in > n_out:  # ...and gives a wide item back as a trailing axis of narrow ones
        out = _shape.reshape(out, out.shape[:-2] + (out.shape[-2] * out.shape[-1],))
    return out


def byteswap(self):
    """The bytes of every element reversed (a big-endian array's bits read as little-endian)."""
    x = asarray(self)
    if np.issubdtype(x.dtype, np.complexfloating):
        return lax.complex_(byteswap(uf.real(x)), byteswap(uf.imag(x)))
    if x.dtype.itemsize == 1:
        return _creation.copy(x)
    as_bytes = lax.bitcast_convert_type(x, np.uint8)
    return lax.bitcast_convert_type(lax.rev(as_bytes, (x.ndim,)), x.dtype)
