"""Seeds: the two 32-bit words of an integer seed, from which every PRNG implementation makes
its first key (JAX's rules: with enable_x64 a 64-bit seed is split in two words, otherwise the
seed fills the low word)."""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import is_array_like
from spmd.transforms import core, dtypes, lax
from spmd.transforms.array import Array, make_array
from spmd.transforms.config import config
from spmd.transforms.core import Tracer
from spmd.transforms.lax.slicing import concatenate

UINT32 = np.dtype(np.uint32)
_LOW32 = 0xFFFFFFFF


def _seed_words_concrete(seed) -> tuple[int, int]:
    """(high, low) words of a known seed, as JAX computes them: with enable_x64 a 64-bit seed
    (Python ints included) is split in two words; otherwise the seed fills the low word."""
    python_int = isinstance(seed, int)
    value = int(seed) if python_int else int(np.asarray(seed))
    if python_int and not -2 ** 63 <= value < 2 ** 63:
        raise OverflowError(f"PRNG seed {value} does not fit in int64; pass a NumPy uint64 for "
                            "seeds in [2**63, 2**64)")
    wide = config.enable_x64 and (python_int or np.asarray(seed).dtype.itemsize == 8)
    return ((value >> 32) & _LOW32 if wide else 0), value & _LOW32


def _seed_words_traced(seed):
    aval = core.get_aval(seed)
    if aval.dtype.itemsize == 8:
        high = lax.shift_right_logical(seed, lax.full((), 32, aval.dtype))
        low = lax.bitwise_and(seed, lax.full((), _LOW32, aval.dtype))
        return lax.convert_element_type(high, UINT32), lax.convert_element_type(low, UINT32)
    # a narrower seed sign- or zero-extends into the low word, as a C cast does
    return lax.full((), 0, UINT32), lax.convert_element_type(seed, UINT32)


def u32(value, like):
    """`value` as uint32, in the shape of `like` (a PRNG's constants against its words)."""
    return lax.full(core.get_aval(like).shape, np.uint32(value), UINT32)


def zero_u32(like=None):
    """uint32 zeros in the shape of `like` (a scalar without it): an unused counter word."""
    return lax.full(() if like is None else core.get_aval(like).shape, 0, UINT32)


def stack_last(first, second):
    """Two arrays of one shape stacked along a new trailing axis of size 2."""
    nd = core.get_aval(first).ndim
    return concatenate([lax.expand_dims(first, (nd,)), lax.expand_dims(second, (nd,))], nd)


def seed_words(ctor: str, seed):
    """The (high, low) uint32 words of an integer seed, after checking it is one: what every
    PRNG implementation seeds from (JAX's threefry_seed takes the same two words). A known seed
    gives NumPy scalars, a traced one traced words."""
    if not is_array_like(seed):
        raise TypeError(f"{ctor} accepts an integer seed, got {type(seed).__name__}: "
                        f"{seed!r:.60}")
    if np.ndim(seed):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given an array of shape "
                        f"{np.shape(seed)} != (). Use spmd.vmap for batching")
    dtype = np.asarray(seed).dtype if not isinstance(seed, (Array, Tracer)) else seed.dtype
    if isinstance(seed, bool) or not dtypes.is_integer(dtype):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r:.60} of dtype {dtype}")
    if core.is_concrete(seed):
        return tuple(np.uint32(w) for w in _seed_words_concrete(seed))
    return _seed_words_traced(seed)


def threefry_seed(ctor: str, seed):
    """uint32[2] Threefry-2x32 key data for an integer seed (JAX's threefry_seed)."""
    high, low = seed_words(ctor, seed)
    if isinstance(high, np.generic) and isinstance(low, np.generic):
        return make_array(np.array([high, low], UINT32))
    return stack_last(high, low)
