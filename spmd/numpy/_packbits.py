"""jax.numpy.packbits and unpackbits: bits (any nonzero is 1) to uint8 bytes and back, eight to
a byte, most significant first ("big") or least significant first ("little")."""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, dtype_of, shape_of
from spmd.numpy._creation import zeros


def _bit_weights(bitorder):
    if bitorder not in ("little", "big"):
        raise ValueError("'order' must be either 'little' or 'big'")
    weights = np.left_shift(np.uint8(1), np.arange(8, dtype=np.uint8))
    return weights[::-1] if bitorder == "big" else weights


def _to_last_axis(a, axis):
    if axis is None:
        return sh.ravel(a), 0
    return sh.swapaxes(a, axis, -1), operator.index(axis)


def packbits(a, axis=None, bitorder="big"):
    """Groups of eight bits along `axis` (the flattened array when None) packed into uint8,
    the last group padded with zero bits."""
    a = asarray_value(a)
    if not (np.issubdtype(dtype_of(a), np.integer) or dtype_of(a) == np.bool_):
        raise TypeError("Expected an input array of integer or boolean data type")
    weights = _bit_weights(bitorder)
    bits, axis = _to_last_axis(uf.not_equal(a, 0).astype(np.uint8), axis)
    remainder = shape_of(bits)[-1] % 8
    if remainder:
        bits = sh.concatenate([bits, zeros(shape_of(bits)[:-1] + (8 - remainder,), np.uint8)],
                              axis=-1)
    bits = sh.reshape(bits, shape_of(bits)[:-1] + (shape_of(bits)[-1] // 8, 8))
    packed = uf.multiply(bits, weights).sum(-1, dtype=np.uint8)
    return sh.swapaxes(packed, axis, -1)


def unpackbits(a, axis=None, count=None, bitorder="big"):
    """Each uint8 along `axis` (the flattened array when None) unpacked into eight 0/1 uint8s;
    `count` keeps that many bits (a negative count drops that many from the end)."""
    a = asarray_value(a)
    if dtype_of(a) != np.uint8:
        raise TypeError("Expected an input array of unsigned byte data type")
    weights = _bit_weights(bitorder)
    a, axis = _to_last_axis(a, axis)
    bits = uf.not_equal(uf.bitwise_and(sh.expand_dims(a, -1), weights), 0).astype(np.uint8)
    bits = sh.reshape(bits, shape_of(bits)[:-2] + (shape_of(bits)[-2] * 8,))
    if count is not None:
        bits = bits[..., :operator.index(count)]
    return sh.swapaxes(bits, axis, -1)
