"""Philox-2x32 and Philox-4x32 keys (Random123's counter-based hash, 10 rounds), JAX's
`philox2x32` and `philox4x32` PRNG implementations, bit for bit: the same seeding (the seed's
two words hashed as a counter under a zero key), the same counters (element i of an output
hashes the (high, low) words of its flat index i) and the same mixing of the hash words into
bits. A philox2x32 key is uint32[1], a philox4x32 key uint32[2]."""
from __future__ import annotations

import numpy as np

from spmd.random.seeds import UINT32, seed_words, stack_last, u32, zero_u32
from spmd.random.streams import flat_index, join_words
from spmd.transforms import core, lax
from spmd.transforms.lax.slicing import index_in_dim

# Random123's constants: the round multipliers and the Weyl increments of the key
_M2x32 = 0xD256D193
_M4x32 = (0xD2511F53, 0xCD9E8D57)
_W32 = (0x9E3779B9, 0xBB67AE85)
_ROUNDS = 10
_LOW16 = 0xFFFF



def _mul_hi_lo(m: int, x):
    """(low, high) 32-bit words of the 64-bit product m * x, in 32-bit arithmetic (16-bit
    halves), so that no 64-bit type is needed without enable_x64."""
    x_lo = lax.bitwise_and(x, u32(_LOW16, x))
    x_hi = lax.shift_right_logical(x, u32(16, x))
    m_lo, m_hi = u32(m & _LOW16, x), u32(m >> 16, x)
    lo_lo, hi_lo = lax.mul(x_lo, m_lo), lax.mul(x_hi, m_lo)
    lo_hi, hi_hi = lax.mul(x_lo, m_hi), lax.mul(x_hi, m_hi)
    # at most 2**32 - 1: the three terms are below 2**16, 2**16 and (2**16 - 1)**2
    cross = lax.add(lax.add(lax.shift_right_logical(lo_lo, u32(16, x)),
                            lax.bitwise_and(hi_lo, u32(_LOW16, x))), lo_hi)
    high = lax.add(lax.add(hi_hi, lax.shift_right_logical(hi_lo, u32(16, x))),
                   lax.shift_right_logical(cross, u32(16, x)))
    return lax.mul(x, u32(m, x)), high


def broadcast_all(*words):
    shape = np.broadcast_shapes(*(core.get_aval(w).shape for w in words))
    return [lax.broadcast_in_dim(w, shape, tuple(range(len(shape) - core.get_aval(w).ndim,
                                                       len(shape))))
            if core.get_aval(w).shape != shape else w for w in words]


def philox2x32(k0, x0, x1):
    """The two hash words of the counter (x0, x1) under the one-word key k0."""
    k0, x0, x1 = broadcast_all(k0, x0, x1)
    for round_ in range(_ROUNDS):
        if round_:
            k0 = lax.add(k0, u32(_W32[0], k0))
        lo, hi = _mul_hi_lo(_M2x32, x0)
        x0, x1 = lax.bitwise_xor(lax.bitwise_xor(hi, x1), k0), lo
    return x0, x1


def philox4x32(k0, k1, x0, x1, x2, x3):
    """The four hash words of the counter (x0, x1, x2, x3) under the key (k0, k1)."""
    k0, k1, x0, x1, x2, x3 = broadcast_all(k0, k1, x0, x1, x2, x3)
    for round_ in range(_ROUNDS):
        if round_:
            k0, k1 = lax.add(k0, u32(_W32[0], k0)), lax.add(k1, u32(_W32[1], k1))
        lo0, hi0 = _mul_hi_lo(_M4x32[0], x0)
        lo1, hi1 = _mul_hi_lo(_M4x32[1], x2)
        x0, x1, x2, x3 = (lax.bitwise_xor(lax.bitwise_xor(hi1, x1), k0), lo1,
                          lax.bitwise_xor(lax.bitwise_xor(hi0, x3), k1), lo0)
    return x0, x1, x2, x3



def _word(key, i):
    return index_in_dim(key, i, keepdims=False)


def _mix(words, bit_width: int):
    """Random values of `bit_width` bits from hash words: 64 bits join the first two words,
    narrower ones keep the low bits of the xor of all of them."""
    if bit_width == 64:
        return join_words(words[0], words[1])
    mixed = words[0]
    for w in words[1:]:
        mixed = lax.bitwise_xor(mixed, w)
    return mixed if bit_width == 32 else lax.convert_element_type(
        mixed, np.dtype(f"uint{bit_width}"))


# ---------------------------------------------------------------- philox2x32: uint32[1] keys
def philox2x32_seed(ctor: str, seed):
    high, low = seed_words(ctor, seed)
    first, _ = philox2x32(zero_u32(), lax.convert_element_type(high, UINT32),
                          lax.convert_element_type(low, UINT32))
    return lax.expand_dims(first, (0,))


def philox2x32_split(key, shape):
    first, _ = philox2x32(_word(key, 0), zero_u32(), flat_index(shape))
    return lax.expand_dims(first, (len(shape),))


def philox2x32_fold_in(key, data):
    first, _ = philox2x32(_word(key, 0), zero_u32(), data)
    return lax.expand_dims(first, (0,))


def philox2x32_random_bits(key, bit_width: int, shape):
    low = flat_index(shape)
    return _mix(philox2x32(_word(key, 0), zero_u32(low), low), bit_width)


# ---------------------------------------------------------------- philox4x32: uint32[2] keys
def philox4x32_seed(ctor: str, seed):
    high, low = seed_words(ctor, seed)
    words = philox4x32(zero_u32(), zero_u32(), lax.convert_element_type(high, UINT32),
                       lax.convert_element_type(low, UINT32), zero_u32(), zero_u32())
    return stack_last(words[0], words[1])


def philox4x32_split(key, shape):
    low = flat_index(shape)
    zero = zero_u32(low)
    words = philox4x32(_word(key, 0), _word(key, 1), zero, zero, zero, low)
    return stack_last(words[0], words[1])


def philox4x32_fold_in(key, data):
    words = philox4x32(_word(key, 0), _word(key, 1), zero_u32(), zero_u32(), zero_u32(), data)
    return stack_last(words[0], words[1])


def philox4x32_random_bits(key, bit_width: int, shape):
    low = flat_index(shape)
    return _mix(philox4x32(_word(key, 0), _word(key, 1), zero_u32(low), low, zero_u32(low),
                           zero_u32(low)), bit_width)
