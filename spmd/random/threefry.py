"""Threefry-2x32 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011), 20 rounds: the keyed hash behind every random number, as one primitive.

`threefry2x32_p(k0, k1, x0, x1) -> (y0, y1)` hashes counter pairs (x0, x1) under the key
(k0, k1), elementwise over four uint32 arrays of one shape. Its lowering writes the 20 rounds
into the compiled program as uint32 adds (which wrap), rotations and xors, so eager calls,
jit, vmap (elementwise: the batch axis passes through) and pmap all run the same code; its
outputs are integer bits, so they carry no tangent under grad.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, lax
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lowering import lowering_rules

UINT32 = np.dtype(np.uint32)
# Rotation distances of Threefry-2x32 (Salmon et al., table 4), used four at a time in turn.
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# The key schedule's parity constant (Skein's C240 truncated to 32 bits).
KEY_PARITY = 0x1BD11BDA


def _const(x, value):
    return lax.full(core.get_aval(x).shape, np.uint32(value), UINT32)


def _rotate_left(x, r: int):
    return lax.bitwise_or(lax.shift_left(x, _const(x, r)),
                          lax.shift_right_logical(x, _const(x, 32 - r)))


def _group(x0, x1, rotations, inject0, inject1, count):
    """Four rounds (add, rotate, xor), then the key injection (inject0, inject1 + count)."""
    for r in rotations:
        x0 = lax.add(x0, x1)
        x1 = lax.bitwise_xor(_rotate_left(x1, r), x0)
    return lax.add(x0, inject0), lax.add(lax.add(x1, inject1), count)


def threefry_rounds(k0, k1, x0, x1):
    """The 20 rounds on uint32 lax values, unrolled: five groups of four rounds, group g
    followed by the injection of (ks[g+1], ks[g+2] + g + 1) (indices mod 3), where the key
    schedule is ks = (k0, k1, k0 ^ k1 ^ parity)."""
    ks = (k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), _const(k0, KEY_PARITY)))
    x0, x1 = lax.add(x0, ks[0]), lax.add(x1, ks[1])
    for g in range(5):
        x0, x1 = _group(x0, x1, ROTATIONS[g % 2], ks[(g + 1) % 3], ks[(g + 2) % 3],
                        _const(x1, g + 1))
    return [x0, x1]


def _threefry_aval(*avals):
    for a in avals:
        if a.dtype != UINT32:
            raise TypeError("threefry2x32 takes uint32 keys and counters, got "
                            f"{', '.join(str(x.dtype) for x in avals)}")
        if a.shape != avals[0].shape:
            raise TypeError("threefry2x32 takes keys and counters of one shape, got "
                            f"{', '.join(str(x.shape) for x in avals)}; broadcast them first")
    out = ShapedArray(avals[0].shape, UINT32)
    return [out, out]


def _threefry_batch(axis, args, dims):
    if all(d == dims[0] for d in dims):
        return threefry2x32_p.bind(*args), [dims[0], dims[0]]
    moved = [bdim_at_front(a, d, axis.size) for a, d in zip(args, dims)]
    return threefry2x32_p.bind(*moved), [0, 0]


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)
threefry2x32_p.def_abstract_eval(_threefry_aval)
lowering_rules[threefry2x32_p] = lower_fun(threefry_rounds, multiple_results=True)
batching_rules[threefry2x32_p] = _threefry_batch
defjvp_zero(threefry2x32_p)


def threefry2x32(k0, k1, x0, x1):
    """Hash the counters (x0, x1) under the key (k0, k1); scalar keys broadcast to the counters'
    shape. All operands uint32; returns the pair of uint32 hashes."""
    shape = core.get_aval(x0).shape
    k0, k1 = (lax.broadcast_in_dim(k, shape, ()) if core.get_aval(k).shape != shape else k
              for k in (k0, k1))
    return threefry2x32_p.bind(k0, k1, x0, x1)
