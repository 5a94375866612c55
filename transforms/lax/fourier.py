"""Fast Fourier transforms (jax.lax.fft): one primitive over XLA's stablehlo.fft.

`fft_type` is FFT, IFFT (complex to complex), RFFT (real to the non-negative frequencies of its
last axis) or IRFFT (back); `fft_lengths` are the sizes of the transformed trailing axes.
Each type is linear: the JVP transforms the tangent, and the transpose is the adjoint transform
under JAX's convention for complex cotangents (for RFFT and IRFFT the frequencies that the
half-spectrum holds once stand for two).
"""
from __future__ import annotations

import enum
import math

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import deflinear
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import deftranspose_linear


class FftType(enum.IntEnum):
    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}
_REAL_OF = {c: r for r, c in _COMPLEX_OF.items()}


def _fft_aval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    if not 1 <= k <= 3 or x.ndim < k:
        raise ValueError(f"fft: fft_lengths {fft_lengths} must name 1 to 3 trailing axes of the "
                         f"operand of shape {x.shape}")
    if fft_type == FftType.RFFT:
        if x.dtype not in _COMPLEX_OF:
            raise TypeError(f"fft: RFFT takes float32 or float64, got {x.dtype}")
        if x.shape[-k:] != tuple(fft_lengths):
            raise ValueError(f"fft: RFFT of lengths {fft_lengths} needs trailing axes of those "
                             f"sizes, got shape {x.shape}")
        return ShapedArray(x.shape[:-1] + (fft_lengths[-1] // 2 + 1,), _COMPLEX_OF[x.dtype])
    if x.dtype not in _REAL_OF:
        raise TypeError(f"fft: {fft_type.name} takes complex64 or complex128, got {x.dtype}")
    if fft_type == FftType.IRFFT:
        expected = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        if x.shape[-k:] != expected:
            raise ValueError(f"fft: IRFFT of lengths {fft_lengths} needs trailing axes of sizes "
                             f"{expected}, got shape {x.shape}")
        return ShapedArray(x.shape[:-1] + (fft_lengths[-1],), _REAL_OF[x.dtype])
    if x.shape[-k:] != tuple(fft_lengths):
        raise ValueError(f"fft: {fft_type.name} of lengths {fft_lengths} needs trailing axes of "
                         f"those sizes, got shape {x.shape}")
    return x.strip_weak()


def _fft_lowering(ctx, x, *, fft_type, fft_lengths):
    return ctx.op("stablehlo.fft", [x], attrs=(
        f"fft_type = #stablehlo<fft_type {fft_type.name}>, fft_length = {i64_array(fft_lengths)}"))


fft_p = Primitive("fft")
fft_p.def_abstract_eval(_fft_aval)
lowering_rules[fft_p] = _fft_lowering
deflinear(fft_p)


def _half_spectrum_weights(like, n: int):
    """1 for the frequencies the half-spectrum of length n holds once (0, and n/2 for even n),
    2 for those that stand for a conjugate pair; spread over `like`'s last axis."""
    m = core.get_aval(like).shape[-1]
    weights = np.full(m, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    aval = core.get_aval(like)
    return broadcast_in_dim(weights.astype(aval.dtype), aval.shape, (aval.ndim - 1,))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    size = math.prod(fft_lengths)
    if fft_type == FftType.RFFT:
        scaled = ew.div(ew.conj(ct), _half_spectrum_weights(ct, fft_lengths[-1]))
        out = fft(scaled, FftType.IRFFT, fft_lengths)
        return ew.mul(out, ew.full(core.get_aval(out).shape, size, core.get_aval(out).dtype))
    if fft_type == FftType.IRFFT:
        spectrum = fft(ct, FftType.RFFT, fft_lengths)
        aval = core.get_aval(spectrum)
        weights = ew.div(_half_spectrum_weights(spectrum, fft_lengths[-1]),
                         ew.full(aval.shape, size, aval.dtype))
        return ew.conj(ew.mul(weights, spectrum))
    return fft(ct, fft_type, fft_lengths)  # the DFT matrix is symmetric


deftranspose_linear(fft_p, _fft_transpose)


def _fft_batch(axis, args, dims, *, fft_type, fft_lengths):
    x = moveaxis(args[0], dims[0], 0)  # the transformed axes are the trailing ones
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


batching_rules[fft_p] = _fft_batch


def fft(x, fft_type, fft_lengths):
    """The FFT of `fft_type` (an FftType or its name) over the trailing len(fft_lengths) axes."""
    if isinstance(fft_type, str):
        try:
            fft_type = FftType[fft_type.upper()]
        except KeyError:
            raise ValueError(f"fft: unknown fft_type {fft_type!r}; use one of "
                             f"{[t.name for t in FftType]}") from None
    lengths = tuple(int(n) for n in fft_lengths)
    aval = core.get_aval(x)
    if fft_type != FftType.RFFT and not dtypes.is_complex(aval.dtype):
        x = ew.convert_element_type(x, _COMPLEX_OF.get(aval.dtype, np.complex64))
    return fft_p.bind(x, fft_type=FftType(fft_type), fft_lengths=lengths)
