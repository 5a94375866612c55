"""psum, pmean, pmax, pmin: reduce a value over named axes; every participant gets the result.

One primitive per reduction (`psum`, `pmax`, `pmin`; pmean is psum then a division), applied to
each leaf of a pytree. Under pmap each lowers to one StableHLO `all_reduce` whose replica groups
come from the axis names; under `vmap(axis_name=...)` the batching rule reduces the batch axis.
"""
from __future__ import annotations

import numpy as np

from spmd.collectives.axes import (batch_in_groups, canonical_groups, canonical_names,
                                   groups_attr, participants, replica_axes)
from spmd.transforms import batching, core, dtypes, lax, tree_util
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, Tracer
from spmd.transforms.jvp import Zero, deflinear, jvp_rules
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

psum_p = Primitive("psum", collective=True)
pmax_p = Primitive("pmax", collective=True)
pmin_p = Primitive("pmin", collective=True)


# ---------------------------------------------------------------- public functions
def psum(x, axis_name, *, axis_index_groups=None):
    """Sum `x` (an array or a pytree of arrays) over the named axis `axis_name` (a name bound
    by an enclosing pmap or vmap, or a tuple of names; integers are positional axes of `x`).
    Every participant gets the sum. With `axis_index_groups` (lists of axis indices that
    partition the axis; as in JAX, the groups of psum, pmean, pmax and pmin may differ in size)
    each group sums separately.

    As in JAX, `psum(1, 'i')` is the size of axis 'i', and psum is linear with psum as its
    transpose: reverse mode through `psum` sums the cotangents of all participants again (JAX's
    convention, which treats the result as a value every participant holds and uses; mpi4jax
    transposes it to the identity instead). Boolean inputs are summed as int32.
    """
    return _reduce_tree("sum", x, axis_name, axis_index_groups)


def pmean(x, axis_name, *, axis_index_groups=None):
    """The mean of `x` (a pytree) over the named axis: psum divided by the number of
    participants. Integer inputs give floating-point means, as in JAX."""
    named, positional, groups, size = _prepare("mean", axis_name, axis_index_groups)
    leaves, tree = tree_util.tree_flatten(x)
    out = []
    for leaf in leaves:
        shape = core.get_aval(leaf).shape
        local = int(np.prod([shape[a] for a in positional], dtype=np.int64))
        # groups of several sizes: each participant divides by its own group's size
        count = local * (size if size is not None else
                         psum_p.bind(np.int32(1), axes=named, axis_index_groups=groups))
        out.append(_divide(_reduce_leaf("sum", leaf, named, positional, groups, size), count))
    return tree_util.tree_unflatten(tree, out)


def pmax(x, axis_name, *, axis_index_groups=None):
    """The maximum of `x` (a pytree) over the named axis; every participant gets it. Its
    derivative follows the participants holding the maximum (shared equally between ties)."""
    return _reduce_tree("max", x, axis_name, axis_index_groups)


def pmin(x, axis_name, *, axis_index_groups=None):
    """The minimum of `x` (a pytree) over the named axis; every participant gets it."""
    return _reduce_tree("min", x, axis_name, axis_index_groups)


def axis_size(axis_name) -> int:
    """The size of the named axis (a Python int), or over a tuple of names the product of
    their sizes: `psum(1, axis_name)`, as in JAX."""
    return psum(1, axis_name)


_PRIMS = {"sum": psum_p, "max": pmax_p, "min": pmin_p}
_LOCAL = {"sum": lax.reduce_sum, "max": lax.reduce_max, "min": lax.reduce_min}


def _prepare(kind, axis_name, axis_index_groups):
    """(named axes, positional axes, checked groups, participants over the named axes)."""
    names = canonical_names(axis_name)
    named = tuple(n for n in names if not isinstance(n, int))
    positional = tuple(n for n in names if isinstance(n, int))
    who = f"p{kind}"
    if positional and axis_index_groups is not None:
        raise ValueError(f"{who}: axis_index_groups cannot be combined with positional axes "
                         f"{positional}")
    groups = canonical_groups(axis_index_groups, named, who, equal_sizes=False) if named else None
    size = participants(named, groups) if named else 1  # raises for an unbound name
    return named, positional, groups, size


def _reduce_tree(kind, x, axis_name, axis_index_groups):
    named, positional, groups, size = _prepare(kind, axis_name, axis_index_groups)
    leaves, tree = tree_util.tree_flatten(x)
    out = [_reduce_leaf(kind, leaf, named, positional, groups, size) for leaf in leaves]
    return tree_util.tree_unflatten(tree, out)


def _reduce_leaf(kind, x, named, positional, groups, size):
    aval = core.get_aval(x)
    if kind == "sum" and aval.dtype == np.bool_:
        x, aval = lax.convert_element_type(x, np.int32), aval.update(dtype=np.int32)
    if positional:
        for a in positional:
            if not -aval.ndim <= a < aval.ndim:
                raise ValueError(f"p{kind}: positional axis {a} is out of range for a value of "
                                 f"shape {aval.shape}")
        x = _LOCAL[kind](x, tuple(a % aval.ndim for a in positional))
    if not named:
        return x
    if kind == "sum" and not isinstance(x, Tracer) and size is not None:
        # A value known now is the same on every participant: its sum is size times it (this
        # is how `psum(1, 'i')` gives the axis size without running a collective).
        return x * size if isinstance(x, (int, float, complex)) else _times(x, size)
    return _PRIMS[kind].bind(x, axes=named, axis_index_groups=groups)


def _times(x, n):
    aval = core.get_aval(x)
    return lax.mul(x, lax.full(aval.shape, n, aval.dtype, aval.weak_type))


def _divide(x, n):
    """x / n, with n a Python int or a traced int32 scalar."""
    aval = core.get_aval(x)
    if not dtypes.is_inexact(aval.dtype):
        x = lax.convert_element_type(x, dtypes.default_float(), aval.weak_type)
        aval = core.get_aval(x)
    if isinstance(n, int):
        return lax.div(x, lax.full(aval.shape, n, aval.dtype, aval.weak_type))
    n = lax.convert_element_type(n, aval.dtype, aval.weak_type)
    return lax.div(x, lax.broadcast_in_dim(n, aval.shape, ()))


# ---------------------------------------------------------------- shape rule
def _reduce_aval(kind):
    def rule(x, *, axes, axis_index_groups):
        if kind != "sum" and dtypes.is_complex(x.dtype):
            raise TypeError(f"p{kind} does not accept complex values ({x.dtype}): they have no "
                            "order")
        return x
    return rule


# ---------------------------------------------------------------- lowering
_HLO = {"sum": "stablehlo.add", "max": "stablehlo.maximum", "min": "stablehlo.minimum"}
_HLO_BOOL = {"sum": "stablehlo.or", "max": "stablehlo.or", "min": "stablehlo.and"}


def _all_reduce_lowering(kind):
    def lower(ctx, x, *, axes, axis_index_groups):
        replicas = replica_axes(ctx, f"p{kind}")
        groups = replicas.groups(axes, axis_index_groups)
        between_processes = replicas.cross_process  # MPI, when pmap chose it (see there)
        if between_processes is not None and between_processes.handles(ctx, kind, groups):
            return between_processes.lower(ctx, x, kind, groups)
        return write_all_reduce(ctx, x, kind, groups, replicas.channel(ctx))
    return lower


def write_all_reduce(ctx, x: str, kind: str, groups, channel: str = "") -> str:
    """An XLA all_reduce of `x` (typed by ctx.in_avals[0]) in these replica groups
    (`channel`: the attributes of a partitioned program's collective, see axes.MeshAxes)."""
    dtype = ctx.in_avals[0].dtype
    op = _HLO_BOOL[kind] if dtype == np.bool_ else _HLO[kind]
    return ctx.op("stablehlo.all_reduce", [x], regions=[ctx.scalar_reducer(dtype, op)],
                  attrs=groups_attr(groups) + channel)


# ---------------------------------------------------------------- JVP and transpose
def _chooser_jvp(prim):
    """pmax/pmin: the tangent of the participants that hold the extreme value, averaged over
    ties (as the local reduce_max does)."""
    def rule(primals, tangents, *, axes, axis_index_groups):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes, axis_index_groups=axis_index_groups)
        if type(t) is Zero:
            return out, Zero(core.get_aval(out))
        chosen = lax.convert_element_type(lax.eq(x, out), core.get_aval(t).dtype)
        total = psum_p.bind(lax.mul(t, chosen), axes=axes, axis_index_groups=axis_index_groups)
        ties = psum_p.bind(chosen, axes=axes, axis_index_groups=axis_index_groups)
        return out, lax.div(total, ties)
    return rule


def _psum_transpose(ct, x, *, axes, axis_index_groups):
    return psum_p.bind(ct, axes=axes, axis_index_groups=axis_index_groups)


# ---------------------------------------------------------------- batching
def _reduce_batch(kind):
    """Over another axis the reduction is elementwise, so the batch axis rides along. Over the
    vmapped axis itself the batch axis is reduced locally, then the other names (if any)."""
    prim = _PRIMS[kind]

    def rule(frame, args, dims, *, axes, axis_index_groups):
        (x,), (d,) = args, dims
        if frame.name not in axes:
            return prim.bind(x, axes=axes, axis_index_groups=axis_index_groups), d
        if axis_index_groups is not None:  # a single name: the groups partition the batch
            return batch_in_groups(rule, frame, x, d, axis_index_groups, axes=axes)
        if d is None:  # the same value at every batch index
            y = _times(x, frame.size) if kind == "sum" else x
        else:
            y = _LOCAL[kind](x, (d,))
        rest = tuple(n for n in axes if n != frame.name)
        return (prim.bind(y, axes=rest, axis_index_groups=None) if rest else y), None
    return rule


# ---------------------------------------------------------------- registration
for _kind, _prim in _PRIMS.items():
    _prim.def_abstract_eval(_reduce_aval(_kind))
    lowering_rules[_prim] = _all_reduce_lowering(_kind)
    batching_rules[_prim] = _reduce_batch(_kind)
    batching.axis_primitives[_prim] = lambda params: params["axes"]
deflinear(psum_p)
deftranspose_linear(psum_p, _psum_transpose)
jvp_rules[pmax_p] = _chooser_jvp(pmax_p)
jvp_rules[pmin_p] = _chooser_jvp(pmin_p)
