"""Threefry-2x32 keys (JAX's default PRNG) to streams of bits: split, fold_in and random_bits,
in JAX's two layouts.

Both hash counters with Threefry-2x32 under the key; they differ in which counters.
- Partitionable (JAX's default since 0.5, `threefry_partitionable=True`): element i of an
  output of any shape hashes the counter pair (0, i) (i is its flat index; JAX's (high, low)
  words of a 64-bit iota), and its 32 bits are the xor of the two hash words (64 bits: the two
  words side by side). `split(key, n)[i]` is the hash of (0, i) itself, so it equals
  `fold_in(key, i)`. Every element depends only on its own index: no communication when sharded.
- Original (`threefry_partitionable=False`): `m` words come from hashing the counters
  0..m-1 laid out as the pairs (i, h + i) for i < h = ceil(m/2) (a last odd pair gets 0 as its
  second counter); word i < h is the first hash word of pair i, word h + j the second of pair j.
  8- and 16-bit values are cut from the words low bits first; 64-bit values join word i (high)
  and word n + i (low).
`fold_in(key, d)` hashes the pair (0, d) in both layouts.

Counters are uint32 here, so one call draws at most 2**32 - 1 values.
"""
from __future__ import annotations

import numpy as np

from spmd.random.seeds import UINT32, stack_last
from spmd.random.threefry import threefry2x32
from spmd.transforms import core, lax
from spmd.transforms.config import config
from spmd.transforms.lax.slicing import index_in_dim
from spmd.transforms.optimization_barrier import optimization_barrier

UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
               64: np.dtype(np.uint64)}
_MAX_COUNT = 2 ** 32 - 1


def _key_words(key):
    """The two key words of uint32[2] key data, as scalars."""
    return index_in_dim(key, 0, keepdims=False), index_in_dim(key, 1, keepdims=False)


def _u32(x, value):
    return lax.full(core.get_aval(x).shape, np.uint32(value), UINT32)


def _check_count(count: int, shape):
    if count > _MAX_COUNT:
        raise NotImplementedError(f"spmd.random draws at most {_MAX_COUNT} values of 32 bits per "
                                  f"call; asked for {count} (shape {shape}). Split the key and "
                                  "draw in parts")


def _flat_index(shape, count: int):
    """Each element's flat (row-major) index, as uint32."""
    _check_count(count, shape)
    if not count:
        return lax.full(tuple(shape), 0, UINT32)
    return lax.reshape(lax.iota(UINT32, count), tuple(shape))


def flat_index(shape):
    """Each element's flat (row-major) index, as uint32: the counters every PRNG hashes."""
    shape = tuple(shape)
    return _flat_index(shape, int(np.prod(shape, dtype=np.int64)))


def _hash_counters(key, high, low):
    # A key computed in the program (split, fold_in) is a few words; without the barrier XLA
    # fuses its whole hash into every element's kernel, recomputing it per element.
    key, = optimization_barrier([key])
    k0, k1 = _key_words(key)
    return threefry2x32(k0, k1, high, low)


# ---------------------------------------------------------------- the original layout
def _original_words(key, count: int, index):
    """Words `index` (a uint32 array, any shape) of the original layout's stream of `count`."""
    half = (count + 1) // 2
    second = lax.ge(index, _u32(index, half))
    pair = lax.select(second, lax.sub(index, _u32(index, half)), index)
    partner = lax.add(pair, _u32(pair, half))
    if count % 2:  # the padded last pair hashes (h - 1, 0)
        partner = lax.select(lax.eq(pair, _u32(pair, half - 1)), _u32(pair, 0), partner)
    first_word, second_word = _hash_counters(key, pair, partner)
    return lax.select(second, second_word, first_word)


def _original_bits(key, bit_width: int, shape):
    size = int(np.prod(shape, dtype=np.int64))
    count = -(-bit_width * size // 32)
    _check_count(count, shape)
    index = _flat_index(shape, size)
    dtype = UINT_DTYPES[bit_width]
    if bit_width == 64:
        high = _original_words(key, count, index)
        low = _original_words(key, count, lax.add(index, _u32(index, size)))
        return join_words(high, low)
    if bit_width == 32:
        return _original_words(key, count, index)
    per_word = 32 // bit_width
    word = lax.div(index, _u32(index, per_word))
    shift = lax.mul(lax.rem(index, _u32(index, per_word)), _u32(index, bit_width))
    chunk = lax.shift_right_logical(_original_words(key, count, word), shift)
    return lax.convert_element_type(chunk, dtype)  # keeps the low bit_width bits


# ---------------------------------------------------------------- the partitionable layout
def _partitionable_bits(key, bit_width: int, shape):
    size = int(np.prod(shape, dtype=np.int64))
    low = _flat_index(shape, size)
    first, second = _hash_counters(key, _u32(low, 0), low)
    if bit_width == 64:
        return join_words(first, second)
    mixed = lax.bitwise_xor(first, second)
    return mixed if bit_width == 32 else lax.convert_element_type(mixed, UINT_DTYPES[bit_width])


def join_words(high, low):
    u64 = np.dtype(np.uint64)
    high, low = lax.convert_element_type(high, u64), lax.convert_element_type(low, u64)
    return lax.bitwise_or(lax.shift_left(high, lax.full(core.get_aval(high).shape, 32, u64)), low)


# ---------------------------------------------------------------- the key operations
def random_bits(key, bit_width: int, shape):
    """uint`bit_width` random values of `shape` from uint32[2] key data."""
    shape = tuple(shape)
    if config.threefry_partitionable:
        return _partitionable_bits(key, bit_width, shape)
    return _original_bits(key, bit_width, shape)


def split(key, shape):
    """Key data of `shape` new keys (uint32[*shape, 2]) from one key."""
    shape = tuple(shape)
    size = int(np.prod(shape, dtype=np.int64))
    if config.threefry_partitionable:
        low = _flat_index(shape, size)
        return stack_last(*_hash_counters(key, _u32(low, 0), low))
    index = _flat_index(shape + (2,), 2 * size)
    return _original_words(key, 2 * size, index)


def fold_in(key, data):
    """Key data of the key made by folding the uint32 scalar `data` into `key`."""
    return stack_last(*_hash_counters(key, lax.full((), 0, UINT32), data))
