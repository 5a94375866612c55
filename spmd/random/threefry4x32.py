"""Threefry-4x32 keys (uint32[4]; Random123's Threefry with four words, 20 rounds), JAX's
`threefry4x32` PRNG implementation, bit for bit: seeded by hashing a zero counter under the key
(high, low, 0, 0) of the seed's words; element i of an output hashes the (high, low) words of
its flat index i; 32 bits are the xor of the four hash words, 64 bits join the xors of words
0 and 2 (high) and 1 and 3 (low)."""
from __future__ import annotations

import numpy as np

from spmd.random.philox import broadcast_all
from spmd.random.seeds import UINT32, seed_words, u32, zero_u32
from spmd.random.streams import flat_index, join_words
from spmd.transforms import lax
from spmd.transforms.lax.slicing import concatenate, index_in_dim

# Skein's rotation constants for four 32-bit words, and its key-schedule parity
_ROTATIONS = ((10, 26), (11, 21), (13, 27), (23, 5), (6, 20), (17, 11), (25, 10), (18, 20))
_PARITY = 0x1BD11BDA
_ROUNDS = 20



def _rotate_left(x, d: int):
    return lax.bitwise_or(lax.shift_left(x, u32(d, x)),
                          lax.shift_right_logical(x, u32(32 - d, x)))


def _mix(a, b, rotation: int):
    """a + b, and b rotated then xored with that sum (one Threefry mix)."""
    a = lax.add(a, b)
    return a, lax.bitwise_xor(a, _rotate_left(b, rotation))


def threefry4x32(k0, k1, k2, k3, x0, x1, x2, x3):
    """The four hash words of the counter (x0..x3) under the key (k0..k3)."""
    k0, k1, k2, k3, x0, x1, x2, x3 = broadcast_all(k0, k1, k2, k3, x0, x1, x2, x3)
    parity = lax.bitwise_xor(lax.bitwise_xor(lax.bitwise_xor(k0, k1), lax.bitwise_xor(k2, k3)),
                             u32(_PARITY, k0))
    ks = [k0, k1, k2, k3, parity]
    x0, x1, x2, x3 = (lax.add(x, k) for x, k in zip((x0, x1, x2, x3), ks))
    for round_ in range(_ROUNDS):
        r0, r1 = _ROTATIONS[round_ % 8]
        if round_ % 2 == 0:
            x0, x1 = _mix(x0, x1, r0)
            x2, x3 = _mix(x2, x3, r1)
        else:
            x0, x3 = _mix(x0, x3, r0)
            x2, x1 = _mix(x2, x1, r1)
        if round_ % 4 == 3:  # key injection
            i = round_ // 4
            x0, x1, x2, x3 = (lax.add(x, ks[(j + 1 + i) % 5]) for j, x in enumerate((x0, x1, x2,
                                                                                     x3)))
            x3 = lax.add(x3, u32(1 + i, x3))
    return x0, x1, x2, x3



def _words(key):
    return [index_in_dim(key, i, keepdims=False) for i in range(4)]


def _stack(words, axis: int):
    return concatenate([lax.expand_dims(w, (axis,)) for w in words], axis)


def threefry4x32_seed(ctor: str, seed):
    high, low = (lax.convert_element_type(w, UINT32) for w in seed_words(ctor, seed))
    zero = zero_u32()
    return _stack(threefry4x32(high, low, zero, zero, zero, zero, zero, zero), 0)


def threefry4x32_split(key, shape):
    low = flat_index(shape)
    zero = zero_u32(low)
    return _stack(threefry4x32(*_words(key), zero, zero, zero, low), len(tuple(shape)))


def threefry4x32_fold_in(key, data):
    zero = zero_u32()
    return _stack(threefry4x32(*_words(key), zero, zero, zero, data), 0)


def threefry4x32_random_bits(key, bit_width: int, shape):
    low = flat_index(shape)
    zero = zero_u32(low)
    w0, w1, w2, w3 = threefry4x32(*_words(key), zero, low, zero, zero)
    if bit_width == 64:
        return join_words(lax.bitwise_xor(w0, w2), lax.bitwise_xor(w1, w3))
    mixed = lax.bitwise_xor(lax.bitwise_xor(w0, w1), lax.bitwise_xor(w2, w3))
    return mixed if bit_width == 32 else lax.convert_element_type(
        mixed, np.dtype(f"uint{bit_width}"))
