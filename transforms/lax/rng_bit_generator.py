"""rng_bit_generator: XLA's stateless bit generator (lax.rng_bit_generator), which the `rbg` and
`unsafe_rbg` PRNG implementations draw their bits from. Its key is uint32[4] (read by XLA as
uint64[2], two words to one) and it returns the next key and the bits. Which bits XLA's
default algorithm gives is XLA's business: the same jaxlib gives the same bits as JAX's."""
from __future__ import annotations

import enum

import numpy as np

from spmd.transforms import core
from spmd.transforms.batching import batching_rules, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lax.slicing import dynamic_update_index_in_dim, index_in_dim
from spmd.transforms.lowering import lowering_rules

_UINT32 = np.dtype(np.uint32)
_UINT64 = np.dtype(np.uint64)
_BIT_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))


class RandomAlgorithm(enum.IntEnum):
    """XLA's bit generator algorithms (lax.RandomAlgorithm)."""
    RNG_DEFAULT = 0
    RNG_THREE_FRY = 1
    RNG_PHILOX = 2


_MLIR_ALGORITHM = {RandomAlgorithm.RNG_DEFAULT: "DEFAULT",
                   RandomAlgorithm.RNG_THREE_FRY: "THREE_FRY",
                   RandomAlgorithm.RNG_PHILOX: "PHILOX"}


def _abstract_eval(key, *, shape, dtype, algorithm):
    if key.shape != (4,) or key.dtype != _UINT32:
        raise TypeError(f"rng_bit_generator: the key must be uint32[4], got {key.str_short()}")
    return [key, ShapedArray(shape, dtype)]


def _lower(ctx, key, *, shape, dtype, algorithm):
    key_aval, bits_aval = ctx.out_avals
    pairs = ShapedArray((2, 2), _UINT32)
    state = ShapedArray((2,), _UINT64)
    # XLA draws 32 bits at least: narrower bits are the low bits of uint32 ones (as JAX)
    drawn = ShapedArray(shape, _UINT32) if dtype.itemsize < 4 else bits_aval
    wide = ctx.typed("stablehlo.bitcast_convert",
                     [ctx.typed("stablehlo.reshape", [key], [key_aval], pairs)], [pairs], state)
    attrs = f"rng_algorithm = #stablehlo<rng_algorithm {_MLIR_ALGORITHM[algorithm]}>"
    new_state, bits = ctx.op("stablehlo.rng_bit_generator", [wide], [state, drawn], attrs,
                             operand_avals=[state])
    new_key = ctx.typed("stablehlo.reshape",
                        [ctx.typed("stablehlo.bitcast_convert", [new_state], [state], pairs)],
                        [pairs], key_aval)
    if drawn is not bits_aval:
        bits = ctx.typed("stablehlo.convert", [bits], [drawn], bits_aval)
    return [new_key, bits]


def _batch(axis, args, dims, *, shape, dtype, algorithm):
    """JAX's rule, kept for the same bits under vmap: a batch of keys draws one block of bits
    of shape (batch, *shape) with the FIRST key only, and that key alone is advanced."""
    (keys,), (d,) = args, dims
    keys = moveaxis(keys, d, 0)
    new_key, bits = rng_bit_generator_p.bind(index_in_dim(keys, 0, keepdims=False),
                                             shape=(axis.size, *shape), dtype=dtype,
                                             algorithm=algorithm)
    return [dynamic_update_index_in_dim(keys, new_key, 0, 0), bits], [0, 0]


rng_bit_generator_p = Primitive("rng_bit_generator", multiple_results=True)
rng_bit_generator_p.def_abstract_eval(_abstract_eval)
lowering_rules[rng_bit_generator_p] = _lower
defjvp_zero(rng_bit_generator_p)
batching_rules[rng_bit_generator_p] = _batch


def rng_bit_generator(key, shape, dtype=np.uint32, algorithm=RandomAlgorithm.RNG_DEFAULT):
    """(new key, bits of `shape` and unsigned `dtype`) from a uint32[4] key."""
    dtype = np.dtype(dtype)
    if dtype not in _BIT_DTYPES:
        raise TypeError(f"rng_bit_generator: unsupported dtype {dtype}; it draws uint8, "
                        "uint16, uint32 or uint64")
    if not isinstance(algorithm, RandomAlgorithm):
        raise TypeError(f"rng_bit_generator: algorithm must be a lax.RandomAlgorithm, got "
                        f"{algorithm!r}")
    shape = tuple(int(d) for d in shape)
    if core.get_aval(key).dtype != _UINT32:
        raise TypeError("rng_bit_generator: the key must be uint32[4], got dtype "
                        f"{core.get_aval(key).dtype}")
    return tuple(rng_bit_generator_p.bind(key, shape=shape, dtype=dtype, algorithm=algorithm))
