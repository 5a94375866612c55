"""spmd.numpy.fft: jax.numpy.fft on XLA's FFT (spmd.lax.fft).

NumPy's conventions: `n`/`s` crop or zero-pad the transformed axes first; `norm` is "backward"
(None: the inverse divides by n), "ortho" (both by sqrt(n)) or "forward" (the forward divides);
integer and real inputs of the complex transforms become complex. XLA transforms at most three
trailing axes at once, so more axes are done in groups (the transforms are separable).
"""
from __future__ import annotations

import math

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, promote_to_inexact, shape_of
from spmd.numpy._creation import arange
from spmd.numpy._shape import moveaxis, pad, roll
from spmd.transforms import dtypes
from spmd.transforms.lax.fourier import FftType, fft as lax_fft

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
           "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq",
           "rfftn"]

_NORMS = (None, "backward", "ortho", "forward")


def _resize(x, axis: int, size: int):
    """x cropped or zero-padded along `axis` to `size`."""
    have = shape_of(x)[axis]
    if size < 1:
        raise ValueError(f"fft: invalid number of data points ({size}) specified; it must be "
                         f"at least 1")
    if have > size:
        index = [slice(None)] * len(shape_of(x))
        index[axis] = slice(0, size)
        return x[tuple(index)]
    if have < size:
        widths = [(0, 0)] * len(shape_of(x))
        widths[axis] = (0, size - have)
        return pad(x, widths)
    return x


def _axes_and_sizes(name, x, s, axes):
    nd = len(shape_of(x))
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    axes = tuple(int(a) for a in axes)
    if any(not -nd <= a < nd for a in axes):
        raise ValueError(f"{name}: axes {axes} are out of bounds for an array of rank {nd}")
    axes = tuple(a % nd for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes {axes} must be distinct")
    if s is not None and len(s) != len(axes):
        raise ValueError(f"{name}: shape s {tuple(s)} and axes {axes} must have the same length")
    return axes, (None if s is None else tuple(int(n) for n in s))


def _scale(out, kind: FftType, norm, size: int):
    if norm not in _NORMS:
        raise ValueError(f'fft: invalid norm value {norm!r}; should be "backward", "ortho" or '
                         '"forward"')
    inverse = kind in (FftType.IFFT, FftType.IRFFT)
    if norm == "ortho":
        factor = math.sqrt(size) if inverse else 1 / math.sqrt(size)
    elif norm == "forward":
        factor = size if inverse else 1 / size
    else:
        return out
    return out * np.array(factor, dtypes.finfo(out.dtype).dtype)


def _transform(x, kind: FftType, lengths):
    """lax's fft over the trailing len(lengths) axes, in groups of at most three."""
    if len(lengths) <= 3:
        return lax_fft(x, kind, lengths)
    if kind == FftType.RFFT:  # the last axis, then the others with it out of the way
        half = moveaxis(lax_fft(x, kind, lengths[-1:]), -1, 0)
        return moveaxis(_transform(half, FftType.FFT, lengths[:-1]), 0, -1)
    if kind == FftType.IRFFT:
        moved = moveaxis(x, -1, 0)  # the leading axes first, with the last one out of the way
        inner = moveaxis(_transform(moved, FftType.IFFT, lengths[:-1]), 0, -1)
        return lax_fft(inner, kind, lengths[-1:])
    return _grouped(x, kind, lengths)


def _grouped(x, kind, lengths):
    """A complex transform over k > 3 trailing axes: the last three, then the rest."""
    x = lax_fft(x, kind, lengths[-3:])
    k = len(lengths)
    moved = moveaxis(x, tuple(range(-k, -3)), tuple(range(-(k - 3), 0)))
    return moveaxis(_transform(moved, kind, lengths[:-3]),
                    tuple(range(-(k - 3), 0)), tuple(range(-k, -3)))


def _fft_core(name, kind: FftType, a, s, axes, norm):
    x = asarray_value(a)
    if kind == FftType.RFFT:
        if dtypes.is_complex(x.dtype):
            raise TypeError(f"{name}: takes a real array, got {x.dtype}; use fft for complex "
                            f"input")
        x, = promote_to_inexact(name, x)
    else:
        x, = promote_to_inexact(name, x)
        if not dtypes.is_complex(x.dtype):
            x = x.astype(np.result_type(x.dtype, np.complex64))
    axes, sizes = _axes_and_sizes(name, x, s, axes)
    if not axes:
        return x
    if sizes is None:
        sizes = tuple(shape_of(x)[a] for a in axes)
        if kind == FftType.IRFFT:
            sizes = sizes[:-1] + (2 * (sizes[-1] - 1),)
    for a, n in zip(axes, sizes):
        last = a == axes[-1]
        x = _resize(x, a, n // 2 + 1 if kind == FftType.IRFFT and last else n)
    k = len(axes)
    moved = moveaxis(x, axes, tuple(range(-k, 0)))
    out = _transform(moved, kind, sizes)
    out = moveaxis(out, tuple(range(-k, 0)), axes)
    return _scale(out, kind, norm, math.prod(sizes))


def _one_axis(name, kind):
    def transform(a, n=None, axis=-1, norm=None):
        return _fft_core(name, kind, a, None if n is None else (n,), (axis,), norm)
    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = f"numpy.fft.{name} over one axis (n: crop or zero-pad it first)."
    return transform


def _n_axes(name, kind, default_axes=None):
    def transform(a, s=None, axes=default_axes, norm=None):
        return _fft_core(name, kind, a, s, axes, norm)
    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = f"numpy.fft.{name} over `axes` (s: their sizes, cropped or padded)."
    return transform


fft = _one_axis("fft", FftType.FFT)
ifft = _one_axis("ifft", FftType.IFFT)
rfft = _one_axis("rfft", FftType.RFFT)
irfft = _one_axis("irfft", FftType.IRFFT)
fftn = _n_axes("fftn", FftType.FFT)
ifftn = _n_axes("ifftn", FftType.IFFT)
rfftn = _n_axes("rfftn", FftType.RFFT)
irfftn = _n_axes("irfftn", FftType.IRFFT)
fft2 = _n_axes("fft2", FftType.FFT, (-2, -1))
ifft2 = _n_axes("ifft2", FftType.IFFT, (-2, -1))
rfft2 = _n_axes("rfft2", FftType.RFFT, (-2, -1))
irfft2 = _n_axes("irfft2", FftType.IRFFT, (-2, -1))

_SWAPPED_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _swapped(norm):
    if norm not in _SWAPPED_NORM:
        _scale(None, FftType.FFT, norm, 1)  # raises the message for a bad norm
    return _SWAPPED_NORM[norm]


def hfft(a, n=None, axis=-1, norm=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    return irfft(uf.conjugate(asarray_value(a)), n, axis, _swapped(norm))


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of hfft: the first half of the Hermitian spectrum of a real signal."""
    return uf.conjugate(rfft(a, n, axis, _swapped(norm)))


def _frequency_dtype(dtype):
    return dtypes.default_float() if dtype is None else dtypes.canonicalize(dtype)


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point FFT with sample spacing d: [0, 1, ..., -1] / (d n)."""
    if not isinstance(n, (int, np.integer)):
        raise ValueError(f"fftfreq: n should be an integer, got {n!r}")
    k = arange(n, dtype=np.int32)
    k = k - n * (k >= (n + 1) // 2).astype(k.dtype)  # the negative frequencies, after n / 2
    return k.astype(_frequency_dtype(dtype)) / (d * n)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The non-negative sample frequencies of an n-point RFFT: [0, 1, ..., n // 2] / (d n)."""
    if not isinstance(n, (int, np.integer)):
        raise ValueError(f"rfftfreq: n should be an integer, got {n!r}")
    return arange(n // 2 + 1, dtype=np.int32).astype(_frequency_dtype(dtype)) / (d * n)


def _shift(x, axes, sign):
    x = asarray_value(x)
    nd = len(shape_of(x))
    axes = tuple(range(nd)) if axes is None else (
        (int(axes),) if isinstance(axes, (int, np.integer)) else tuple(axes))
    shifts = tuple(sign * (shape_of(x)[a] // 2) for a in axes)
    return roll(x, shifts, axes)


def fftshift(x, axes=None):
    """The zero frequency moved to the centre of `axes` (all by default)."""
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """The inverse of fftshift."""
    return _shift(x, axes, -1)
