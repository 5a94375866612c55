"""all_to_all: every participant splits its value into blocks and sends block j to participant
j, which concatenates what it receives. Linear; its transpose swaps the two axes.

The primitive is the tiled form (split `split_axis` into one block per participant, concatenate
the received blocks along `concat_axis`); the untiled form of the public function adds a unit
axis before and removes one after, as JAX does. Lowers to StableHLO `all_to_all`.
"""
from __future__ import annotations

from spmd.collectives import mpi_exchange
from spmd.collectives.axes import (batch_in_groups, canonical_groups, canonical_names,
                                   check_pure_names, groups_attr, participants, replica_axes)
from spmd.transforms import batching, core, lax, tree_util
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

all_to_all_p = Primitive("all_to_all", collective=True)


# ---------------------------------------------------------------- public function
def all_to_all(x, axis_name, split_axis, concat_axis, *, axis_index_groups=None, tiled=False):
    """Exchange blocks of `x` (an array or pytree) among the participants of the named axis:
    dimension `split_axis` is split into one block per participant, block j goes to participant
    j, and the blocks received are laid out along `concat_axis` in participant order.

    Untiled (the default), `x.shape[split_axis]` must equal the number of participants; the
    result has that dimension removed and a new one of that size inserted at `concat_axis`
    (`np.insert(np.delete(x.shape, split_axis), concat_axis, n)`). Tiled, the split dimension
    shrinks n-fold and the concat dimension grows n-fold."""
    names = canonical_names(axis_name)
    check_pure_names(names, "all_to_all")
    groups = canonical_groups(axis_index_groups, names, "all_to_all")
    size = participants(names, groups)

    def exchange(leaf):
        shape = core.get_aval(leaf).shape
        split = _in_range(split_axis, len(shape), "split_axis")
        concat = _in_range(concat_axis, len(shape), "concat_axis")
        if tiled and shape[split] % size:
            raise ValueError(f"all_to_all: split_axis {split} of the operand (shape {shape}) must "
                             f"be divisible by the number of participants {size} (tiled=True)")
        if not tiled:
            if shape[split] != size:
                raise ValueError(f"all_to_all: split_axis {split} of the operand (shape {shape}) "
                                 f"must equal the number of participants {size} (tiled=False)")
            if split < concat:  # concat_axis is a position in the output, after the removal
                concat += 1
                leaf = lax.expand_dims(leaf, (concat,))
            elif concat < split:
                leaf = lax.expand_dims(leaf, (concat,))
                split += 1
        out = all_to_all_p.bind(leaf, axis_name=names, split_axis=split, concat_axis=concat,
                                axis_size=size, axis_index_groups=groups)
        if not tiled and split != concat:
            out = lax.squeeze(out, (split,))
        return out
    return tree_util.tree_map(exchange, x)


def pswapaxes(x, axis_name, axis, *, axis_index_groups=None):
    """Swap the mapped axis `axis_name` with the unmapped axis `axis` of `x` (a pytree):
    `all_to_all(x, axis_name, axis, axis)`, so `x.shape[axis]` must equal the number of
    participants, as in JAX."""
    return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)


def _in_range(axis, ndim, what):
    if not -ndim <= axis < ndim:
        raise ValueError(f"all_to_all: {what}={axis} is out of range for an operand of rank {ndim}")
    return axis % ndim


# ---------------------------------------------------------------- shape rule
def _all_to_all_aval(x, *, axis_name, split_axis, concat_axis, axis_size, axis_index_groups):
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return x.update(shape=tuple(shape))


# ---------------------------------------------------------------- lowering
def _all_to_all_lowering(ctx, x, *, axis_name, split_axis, concat_axis, axis_size,
                         axis_index_groups):
    axes = replica_axes(ctx, "all_to_all")
    groups = axes.groups(axis_name, axis_index_groups)
    between_processes = mpi_exchange.over_mpi(ctx, axes, groups)  # when pmap chose it
    if between_processes is not None:
        return mpi_exchange.all_to_all(between_processes, ctx, x, split_axis, concat_axis)
    return ctx.op("stablehlo.all_to_all", [x],
                  attrs=f"split_dimension = {split_axis} : i64, "
                        f"concat_dimension = {concat_axis} : i64, "
                        f"split_count = {axis_size} : i64, {groups_attr(groups)}"
                        + axes.channel(ctx, global_ids=False))


# ---------------------------------------------------------------- transpose
def _all_to_all_transpose(ct, x, *, axis_name, split_axis, concat_axis, axis_size,
                          axis_index_groups):
    return all_to_all_p.bind(ct, axis_name=axis_name, split_axis=concat_axis,
                             concat_axis=split_axis, axis_size=axis_size,
                             axis_index_groups=axis_index_groups)


# ---------------------------------------------------------------- batching
def _all_to_all_batch(frame, args, dims, *, axis_name, split_axis, concat_axis, axis_size,
                      axis_index_groups):
    (x,), (d,) = args, dims
    if frame.name in axis_name and axis_index_groups is not None:
        return batch_in_groups(_all_to_all_batch, frame, x, d, axis_index_groups,
                               axis_name=axis_name, split_axis=split_axis,
                               concat_axis=concat_axis, axis_size=axis_size)
    x = bdim_at_front(x, d, frame.size)
    if frame.name not in axis_name:
        return all_to_all_p.bind(x, axis_name=axis_name, split_axis=split_axis + 1,
                                 concat_axis=concat_axis + 1, axis_size=axis_size,
                                 axis_index_groups=axis_index_groups), 0
    if axis_name != (frame.name,):
        raise NotImplementedError(
            f"all_to_all over the vmap axis {frame.name!r} works over that name alone (got "
            f"axis names {axis_name}); map the other axes with pmap")
    # x[i] is element i's value. Split its split axis into (n, c): x[i, .., j, c, ..] is the block
    # i sends to j. Element j receives x[i, .., j, ..] for every i, concatenated along concat.
    n = frame.size
    shape = core.get_aval(x).shape
    split, concat = split_axis + 1, concat_axis + 1
    blocks = lax.reshape(x, shape[:split] + (n, shape[split] // n) + shape[split + 1:])
    # now the block index j sits at `split`; the concat axis moved right if it was after it
    concat_pos = concat + 1 if concat > split else concat
    # swap the sender and block axes: axis 0 is now the receiver j, axis `split` the sender i
    swapped = moveaxis(moveaxis(blocks, split, 0), 1, split)
    # bring the sender axis just before the concat axis, and merge them (sender major)
    target = concat_pos - 1 if concat_pos > split else concat_pos
    out = moveaxis(swapped, split, target)
    shape = list(core.get_aval(out).shape)
    merged = shape[:target] + [shape[target] * shape[target + 1]] + shape[target + 2:]
    return lax.reshape(out, tuple(merged)), 0


# ---------------------------------------------------------------- registration
all_to_all_p.def_abstract_eval(_all_to_all_aval)
lowering_rules[all_to_all_p] = _all_to_all_lowering
deflinear(all_to_all_p)
deftranspose_linear(all_to_all_p, _all_to_all_transpose)
batching_rules[all_to_all_p] = _all_to_all_batch
batching.axis_primitives[all_to_all_p] = lambda params: params["axis_name"]
