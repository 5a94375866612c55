"""`rbg` and `unsafe_rbg` keys (uint32[4]), JAX's implementations on XLA's bit generator, bit
for bit: the bits come from lax.rng_bit_generator; `rbg` splits and folds in by Threefry on each
half of the key (so its keys are as good as Threefry's), `unsafe_rbg` by the bit generator
itself (faster, with no guarantee of independent streams). A key is two Threefry keys side by
side when seeded: the seed's Threefry key twice."""
from __future__ import annotations

import numpy as np

from spmd.random import streams
from spmd.random.seeds import UINT32, threefry_seed
from spmd.transforms import lax
from spmd.transforms.lax.rng_bit_generator import rng_bit_generator
from spmd.transforms.lax.slicing import concatenate, index_in_dim, slice_in_dim


def rbg_seed(ctor: str, seed):
    half = threefry_seed(ctor, seed)
    return concatenate([half, half], 0)


def _halves(key):
    pairs = lax.reshape(key, (2, 2))
    return index_in_dim(pairs, 0, keepdims=False), index_in_dim(pairs, 1, keepdims=False)


def rbg_split(key, shape):
    shape = tuple(shape)
    first, second = (streams.split(half, shape) for half in _halves(key))
    return concatenate([first, second], len(shape))  # (*shape, 2) twice -> (*shape, 4)


def rbg_fold_in(key, data):
    return concatenate([streams.fold_in(half, data) for half in _halves(key)], 0)


def rbg_random_bits(key, bit_width: int, shape):
    _, bits = rng_bit_generator(key, tuple(shape), np.dtype(f"uint{bit_width}"))
    return bits


def unsafe_rbg_split(key, shape):
    """Every tenth row of the generator's uint32[10 n, 4] output: ten draws between keys act as
    the hash (JAX's choice)."""
    shape = tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    _, rows = rng_bit_generator(key, (10 * count, 4), UINT32)
    return lax.reshape(slice_in_dim(rows, 0, 10 * count, 10, 0), (*shape, 4))


def unsafe_rbg_fold_in(key, data):
    _, rows = rng_bit_generator(rbg_seed("fold_in", data), (10, 4), UINT32)
    return lax.bitwise_xor(key, index_in_dim(rows, 9, keepdims=False))
