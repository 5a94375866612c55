"""ppermute and pshuffle: send each participant's value to another, by a fixed permutation.

`ppermute(x, 'i', perm)` takes (source, destination) pairs over axis indices; a participant
that is no destination gets zeros. Linear; its transpose is the inverse permutation. Lowers to
StableHLO `collective_permute`; under `vmap(axis_name=...)` it reorders the batch axis.
"""
from __future__ import annotations

import numpy as np

from spmd.collectives import mpi_exchange
from spmd.collectives.axes import (axis_size, canonical_names, check_pure_names, pairs_attr,
                                   replica_axes)
from spmd.transforms import batching, core, lax, tree_util
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

ppermute_p = Primitive("ppermute", collective=True)


# ---------------------------------------------------------------- public functions
def ppermute(x, axis_name, perm):
    """Send the value of `x` (an array or pytree) at axis index `src` to axis index `dst` for
    each pair `(src, dst)` of `perm`; indices that no pair targets receive zeros. No two pairs
    may share a source or a destination. Over a tuple of names the indices are linear indices
    over them (the first name slowest)."""
    names = canonical_names(axis_name)
    check_pure_names(names, "ppermute")
    size = axis_size(names)
    perm = tuple((int(s), int(d)) for s, d in perm)
    for s, d in perm:
        if not (0 <= s < size and 0 <= d < size):
            raise ValueError(f"ppermute: pair ({s}, {d}) of perm {perm} is out of range for axis "
                             f"{names if len(names) > 1 else names[0]!r} of size {size}")
    for which, idx in (("source", 0), ("destination", 1)):
        seen = [p[idx] for p in perm]
        if len(set(seen)) != len(seen):
            raise ValueError(f"ppermute: perm {perm} repeats a {which} index; each index may be a "
                             f"{which} at most once")
    return tree_util.tree_map(lambda leaf: ppermute_p.bind(leaf, axis_name=names, perm=perm), x)


def pshuffle(x, axis_name, perm):
    """Like ppermute, with `perm` listing sources: axis index i receives the value of axis index
    `perm[i]`. `perm` must be a permutation of range(axis size)."""
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(len(perm))):
        raise ValueError(f"pshuffle: perm {perm} is not a permutation of range({len(perm)})")
    return ppermute(x, axis_name, list(zip(perm, range(len(perm)))))


# ---------------------------------------------------------------- lowering
def _ppermute_lowering(ctx, x, *, axis_name, perm):
    axes = replica_axes(ctx, "ppermute")
    pairs = axes.permute_pairs(axis_name, perm)
    aval = ctx.out_avals[0]
    if not pairs:  # nobody sends: everyone receives zeros
        return ctx.constant(np.zeros(aval.shape, aval.dtype), aval.strip_weak())
    between_processes = mpi_exchange.over_mpi(ctx, axes, axes.groups(axis_name))
    if between_processes is not None:  # when pmap chose it
        return mpi_exchange.ppermute(between_processes, ctx, x, pairs)
    return ctx.op("stablehlo.collective_permute", [x],
                  attrs=pairs_attr(pairs) + axes.channel(ctx, global_ids=False))


# ---------------------------------------------------------------- transpose
def _ppermute_transpose(ct, x, *, axis_name, perm):
    return ppermute_p.bind(ct, axis_name=axis_name, perm=tuple((d, s) for s, d in perm))


# ---------------------------------------------------------------- batching
def _ppermute_batch(frame, args, dims, *, axis_name, perm):
    (x,), (d,) = args, dims
    if frame.name not in axis_name:  # elementwise over the batch
        return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    if axis_name != (frame.name,):
        raise NotImplementedError(
            f"ppermute over the vmap axis {frame.name!r} works over that name alone (got axis "
            f"names {axis_name}); map the other axes with pmap")
    source = np.full(frame.size, -1)
    for s, dst in perm:
        source[dst] = s
    x = bdim_at_front(x, d, frame.size)
    return take_static(x, source, 0), 0


def take_static(x, index: np.ndarray, axis: int):
    """`x` with dimension `axis` replaced by the rows `index` names (known now); rows of index
    -1 are zeros. Written with select and a sum, so that an inf or nan in one row cannot leak
    into another (as it would through a one-hot product)."""
    aval = core.get_aval(x)
    n, m = aval.shape[axis], len(index)
    front = moveaxis(x, axis, 0)
    rest = core.get_aval(front).shape[1:]
    shape = (m, n) + rest
    rows = lax.broadcast_in_dim(front, shape, tuple(range(1, len(shape))))
    mask = np.asarray(index)[:, None] == np.arange(n)[None, :]
    chosen = lax.broadcast_in_dim(mask, shape, (0, 1))
    zeros = lax.full(shape, 0, aval.dtype, aval.weak_type)
    picked = lax.reduce_sum(lax.select(chosen, rows, zeros), (1,))
    return moveaxis(picked, 0, axis)


# ---------------------------------------------------------------- registration
ppermute_p.def_abstract_eval(lambda x, *, axis_name, perm: x)
lowering_rules[ppermute_p] = _ppermute_lowering
deflinear(ppermute_p)
deftranspose_linear(ppermute_p, _ppermute_transpose)
batching_rules[ppermute_p] = _ppermute_batch
batching.axis_primitives[ppermute_p] = lambda params: params["axis_name"]
