"""all_gather and psum_scatter: the two halves of an all-reduce, and each other's transpose.

`all_gather` gives every participant the values of all of them, stacked along a new axis (or
concatenated along an existing one when `tiled`); `psum_scatter` sums over the participants and
gives participant k only the k-th block of the sum. Under pmap they lower to StableHLO
`all_gather` and `reduce_scatter`; under `vmap(axis_name=...)` their batching rules move the
batch axis. The primitives run over one axis name; over several names the public functions
apply them one name at a time, which orders the participants as JAX does (first name slowest).
"""
from __future__ import annotations

import numpy as np

from spmd.collectives import mpi_exchange
from spmd.collectives.axes import (batch_in_groups, canonical_groups, canonical_names,
                                   check_pure_names, groups_attr, participants, replica_axes)
from spmd.transforms import batching, core, lax, tree_util
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

all_gather_p = Primitive("all_gather", collective=True)
psum_scatter_p = Primitive("psum_scatter", collective=True)


# ---------------------------------------------------------------- public functions
def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False):
    """Gather `x` (an array or pytree) from every participant of the named axis: the result
    stacks their values along a new dimension at position `axis`, in axis-index order (or, with
    `tiled=True`, concatenates them along the existing dimension `axis`). With
    `axis_index_groups` each group gathers among itself. Its transpose is `psum_scatter`."""
    names = canonical_names(axis_name)
    check_pure_names(names, "all_gather")
    groups = canonical_groups(axis_index_groups, names, "all_gather")
    sizes = [participants((n,), groups) for n in names]  # raises for an unbound name

    def gather(leaf):
        ndim = core.get_aval(leaf).ndim
        where = _axis_in_range(axis, ndim if tiled else ndim + 1, "all_gather", "axis")
        # the last name first, stacked; each earlier name concatenates whole blocks of it
        for k, (name, size) in enumerate(zip(reversed(names), reversed(sizes))):
            leaf = all_gather_p.bind(leaf, axis_name=name, axis=where, axis_size=size,
                                     axis_index_groups=groups, tiled=tiled or k > 0)
        return leaf
    return tree_util.tree_map(gather, x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """Sum `x` (an array or pytree) over the named axis and give participant k the k-th block
    of the sum along `scatter_dimension`. Without `tiled` that dimension must have one entry
    per participant and is removed; with `tiled=True` it must divide evenly and shrinks to its
    share. Its transpose is `all_gather`."""
    names = canonical_names(axis_name)
    check_pure_names(names, "psum_scatter")
    groups = canonical_groups(axis_index_groups, names, "psum_scatter")
    sizes = [participants((n,), groups) for n in names]
    total = int(np.prod(sizes))

    def scatter(leaf):
        shape = core.get_aval(leaf).shape
        dim = _axis_in_range(scatter_dimension, len(shape), "psum_scatter", "scatter_dimension")
        if not tiled and shape[dim] != total:
            raise ValueError(f"psum_scatter: dimension {dim} of the operand (shape {shape}) must "
                             f"equal the number of participants {total} (tiled=False)")
        if tiled and shape[dim] % total:
            raise ValueError(f"psum_scatter: dimension {dim} of the operand (shape {shape}) must "
                             f"be divisible by the number of participants {total} (tiled=True)")
        if len(names) == 1:
            return psum_scatter_p.bind(leaf, axis_name=names[0], scatter_dimension=dim,
                                       axis_size=total, axis_index_groups=groups, tiled=tiled)
        # the first name first: each later name splits the block the earlier ones left
        for name, size in zip(names, sizes):
            leaf = psum_scatter_p.bind(leaf, axis_name=name, scatter_dimension=dim,
                                       axis_size=size, axis_index_groups=groups, tiled=True)
        return leaf if tiled else lax.squeeze(leaf, (dim,))
    return tree_util.tree_map(scatter, x)


def _axis_in_range(axis, bound, who, what):
    if not -bound <= axis < bound:
        raise ValueError(f"{who}: {what}={axis} is out of range for {bound} possible positions")
    return axis % bound


# ---------------------------------------------------------------- shape rules
def _all_gather_aval(x, *, axis_name, axis, axis_size, axis_index_groups, tiled):
    shape = list(x.shape)
    if tiled:
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return x.update(shape=tuple(shape))


def _psum_scatter_aval(x, *, axis_name, scatter_dimension, axis_size, axis_index_groups, tiled):
    shape = list(x.shape)
    if tiled:
        shape[scatter_dimension] //= axis_size
    else:
        del shape[scatter_dimension]
    return x.update(shape=tuple(shape))


# ---------------------------------------------------------------- lowering
def _all_gather_lowering(ctx, x, *, axis_name, axis, axis_size, axis_index_groups, tiled):
    axes = replica_axes(ctx, "all_gather")
    groups = axes.groups((axis_name,), axis_index_groups)
    between_processes = mpi_exchange.over_mpi(ctx, axes, groups)  # when pmap chose it
    if between_processes is not None:
        return mpi_exchange.all_gather(between_processes, ctx, x, axis, tiled)
    aval = ctx.in_avals[0]
    if not tiled:  # gather along a new unit dimension
        unit = aval.update(shape=aval.shape[:axis] + (1,) + aval.shape[axis:])
        x, aval = ctx.typed("stablehlo.reshape", [x], [aval], unit), unit
    return ctx.op("stablehlo.all_gather", [x], operand_avals=[aval],
                  attrs=f"all_gather_dim = {axis} : i64, {groups_attr(groups)}"
                  + axes.channel(ctx))


def _psum_scatter_lowering(ctx, x, *, axis_name, scatter_dimension, axis_size,
                           axis_index_groups, tiled):
    axes = replica_axes(ctx, "psum_scatter")
    groups = axes.groups((axis_name,), axis_index_groups)
    aval = ctx.in_avals[0]
    between_processes = mpi_exchange.over_mpi(ctx, axes, groups)  # when pmap chose it
    if between_processes is not None and aval.dtype != np.bool_:  # (a sum of booleans: or)
        return mpi_exchange.psum_scatter(between_processes, ctx, x, scatter_dimension)
    shape = list(aval.shape)
    shape[scatter_dimension] //= axis_size
    block = aval.update(shape=tuple(shape))
    op = "stablehlo.or" if aval.dtype == np.bool_ else "stablehlo.add"
    out = ctx.op("stablehlo.reduce_scatter", [x], out_avals=[block],
                 regions=[ctx.scalar_reducer(aval.dtype, op)],
                 attrs=f"scatter_dimension = {scatter_dimension} : i64, {groups_attr(groups)}"
                 + axes.channel(ctx))
    if not tiled:
        out = ctx.typed("stablehlo.reshape", [out], [block], ctx.out_avals[0])
    return out


# ---------------------------------------------------------------- transposes
def _all_gather_transpose(ct, x, *, axis_name, axis, axis_size, axis_index_groups, tiled):
    return psum_scatter_p.bind(ct, axis_name=axis_name, scatter_dimension=axis,
                               axis_size=axis_size, axis_index_groups=axis_index_groups,
                               tiled=tiled)


def _psum_scatter_transpose(ct, x, *, axis_name, scatter_dimension, axis_size,
                            axis_index_groups, tiled):
    return all_gather_p.bind(ct, axis_name=axis_name, axis=scatter_dimension,
                             axis_size=axis_size, axis_index_groups=axis_index_groups,
                             tiled=tiled)


# ---------------------------------------------------------------- batching
def _all_gather_batch(frame, args, dims, *, axis_name, axis, axis_size, axis_index_groups,
                      tiled):
    (x,), (d,) = args, dims
    if frame.name == axis_name and axis_index_groups is not None:
        return batch_in_groups(_all_gather_batch, frame, x, d, axis_index_groups,
                               axis_name=axis_name, axis=axis, axis_size=axis_size, tiled=tiled)
    x = bdim_at_front(x, d, frame.size)
    if frame.name != axis_name:  # gather each batch element; the batch axis stays in front
        return all_gather_p.bind(x, axis_name=axis_name, axis=axis + 1, axis_size=axis_size,
                                 axis_index_groups=axis_index_groups, tiled=tiled), 0
    # gathering over the vmapped axis: every element gets the whole batch, stacked at `axis`
    stacked = moveaxis(x, 0, axis)
    if tiled:
        shape = core.get_aval(x).shape[1:]
        merged = shape[:axis] + (frame.size * shape[axis],) + shape[axis + 1:]
        stacked = lax.reshape(stacked, merged)
    return stacked, None


def _psum_scatter_batch(frame, args, dims, *, axis_name, scatter_dimension, axis_size,
                        axis_index_groups, tiled):
    (x,), (d,) = args, dims
    if frame.name == axis_name and axis_index_groups is not None:
        return batch_in_groups(_psum_scatter_batch, frame, x, d, axis_index_groups,
                               axis_name=axis_name, scatter_dimension=scatter_dimension,
                               axis_size=axis_size, tiled=tiled)
    x = bdim_at_front(x, d, frame.size)
    if frame.name != axis_name:
        return psum_scatter_p.bind(x, axis_name=axis_name, scatter_dimension=scatter_dimension + 1,
                                   axis_size=axis_size, axis_index_groups=axis_index_groups,
                                   tiled=tiled), 0
    total = lax.reduce_sum(x, (0,))  # the sum over the batch; element k keeps block k of it
    if tiled:
        shape = core.get_aval(total).shape
        dim = scatter_dimension
        total = lax.reshape(total, shape[:dim] + (frame.size, shape[dim] // frame.size)
                            + shape[dim + 1:])
    return moveaxis(total, scatter_dimension, 0), 0


# ---------------------------------------------------------------- registration
all_gather_p.def_abstract_eval(_all_gather_aval)
lowering_rules[all_gather_p] = _all_gather_lowering
deflinear(all_gather_p)
deftranspose_linear(all_gather_p, _all_gather_transpose)
batching_rules[all_gather_p] = _all_gather_batch
batching.axis_primitives[all_gather_p] = lambda params: (params["axis_name"],)

psum_scatter_p.def_abstract_eval(_psum_scatter_aval)
lowering_rules[psum_scatter_p] = _psum_scatter_lowering
deflinear(psum_scatter_p)
deftranspose_linear(psum_scatter_p, _psum_scatter_transpose)
batching_rules[psum_scatter_p] = _psum_scatter_batch
batching.axis_primitives[psum_scatter_p] = lambda params: (params["axis_name"],)
