"""Named axes for the collectives: which names a collective runs over, how big they are, and
the replica groups that pmap's lowering turns them into.

A pmap program runs one replica per device. Its replicas form a grid with one dimension per
pmap axis name, outermost first (nested pmaps multiply); replica r sits at index
`(r // stride(name)) % size(name)` along each name. A collective over a set of names talks
within the groups of replicas that agree on every other name.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from spmd.transforms import batching, core, lax


def canonical_names(axis_name) -> tuple:
    """`axis_name` (a name or a tuple of names) as a tuple."""
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    if not names:
        raise ValueError("a collective needs at least one axis name")
    if len(set(names)) != len(names):
        raise ValueError(f"axis names {names} are repeated; name each axis once")
    return names


def axis_size(names: Sequence) -> int:
    """The number of participants over `names`: the product of their sizes. Raises the
    "unbound axis name" error (naming the bound ones) for a name no pmap/vmap binds."""
    size = 1
    for name in names:
        size *= core.axis_frame(name).size
    return size


def canonical_groups(axis_index_groups, names: tuple, who: str, equal_sizes: bool = True):
    """`axis_index_groups` as a tuple of tuples, checked: groups (of one size, unless
    `equal_sizes` is False: JAX lets the all-reduces take groups of several sizes) that together
    cover every index of the (single) axis exactly once."""
    if axis_index_groups is None:
        return None
    groups = tuple(tuple(int(i) for i in g) for g in axis_index_groups)
    if len(names) != 1:
        raise ValueError(f"{who}: axis_index_groups works over a single axis name, but got "
                         f"axis names {names}")
    size = axis_size(names)
    if equal_sizes and len({len(g) for g in groups}) != 1:
        raise ValueError(f"{who}: axis_index_groups {groups} must all have the same size")
    if sorted(i for g in groups for i in g) != list(range(size)):
        raise ValueError(f"{who}: axis_index_groups {groups} must contain every index of axis "
                         f"{names[0]!r} (size {size}) exactly once")
    return groups


def batch_in_groups(rule, frame, x, d, groups, **params):
    """A batching rule over the vmapped axis itself, run with `axis_index_groups`: `rule` (the
    rule for the whole axis, called with no groups) within each group of batch indices, the
    results put back at their indices. (A pmap inside jit computes as a vmap and needs it.)"""
    x = batching.bdim_at_front(x, d, frame.size)
    outs = [None] * frame.size
    for group in groups:
        members = lax.concatenate([lax.index_in_dim(x, i, 0) for i in group], 0)
        y, yd = rule(core.AxisFrame(frame.name, len(group), frame.kind), [members], [0],
                     axis_index_groups=None, **params)
        y = batching.bdim_at_front(y, yd, len(group))
        for pos, i in enumerate(group):
            outs[i] = lax.index_in_dim(y, pos, 0)
    return lax.concatenate(outs, 0), 0


def participants(names: tuple, groups) -> int | None:
    """How many values a collective over `names` (in `groups`) combines; None when the groups
    differ in size (each participant combines its own group's)."""
    if groups is None:
        return axis_size(names)
    return len(groups[0]) if len({len(g) for g in groups}) == 1 else None


def check_pure_names(names: tuple, who: str):
    for n in names:
        if isinstance(n, int):
            raise TypeError(f"{who} takes axis names, not positional axes (got {n}); "
                            "positional axes only work with psum, pmean, pmax and pmin")


class ReplicaAxes:
    """pmap's axis context for lowering: the named axes of the replica grid, outermost first,
    and `cross_process`: how all-reduces between processes run when not as XLA all_reduces
    (collectives/mpi_all_reduce.py), or None."""

    def __init__(self, axes: Sequence[tuple], cross_process=None):
        self.cross_process = cross_process
        self.axes = tuple((name, int(size)) for name, size in axes)
        self.sizes = {name: size for name, size in self.axes}
        self.num_replicas = int(np.prod([s for _, s in self.axes], dtype=np.int64))
        self.strides, stride = {}, 1
        for name, size in reversed(self.axes):
            self.strides[name] = stride
            stride *= size

    def __repr__(self):
        return f"ReplicaAxes({self.axes})"

    @property
    def orders_host_callbacks(self) -> bool:
        """Whether the lowering chains host callbacks through loops and branches too
        (lowering.OrderedChain): the cross-process transport's callbacks need one order."""
        return self.cross_process is not None

    def _check(self, names):
        for n in names:
            if n not in self.sizes:
                raise NameError(f"axis name {n!r} is not an axis of this pmap program (its axes "
                                f"are {[a for a, _ in self.axes]}); a collective over a vmap "
                                "axis must be batched before it is lowered")

    def _replica(self, index: dict) -> int:
        return sum(index[name] * self.strides[name] for name, _ in self.axes)

    def _others(self, names):
        """Every combination of indices along the axes not in `names`."""
        others = [(n, s) for n, s in self.axes if n not in names]
        for combo in itertools.product(*[range(s) for _, s in others]):
            yield dict(zip([n for n, _ in others], combo))

    def _linear_members(self, names, base: dict) -> list[int]:
        """The replicas that differ from `base` along `names`, in the order of the linear index
        over `names` (the first name slowest)."""
        members = []
        for combo in itertools.product(*[range(self.sizes[n]) for n in names]):
            members.append(self._replica({**base, **dict(zip(names, combo))}))
        return members

    def groups(self, names: tuple, axis_index_groups=None) -> list[list[int]]:
        """Replica groups for a collective over `names` (ordered by the linear index over
        `names`, or by `axis_index_groups` over a single name)."""
        self._check(names)
        out = []
        for base in self._others(names):
            members = self._linear_members(names, base)
            if axis_index_groups is None:
                out.append(members)
            else:
                out.extend([members[i] for i in g] for g in axis_index_groups)
        return out

    def permute_pairs(self, names: tuple, perm) -> list[tuple[int, int]]:
        """(source replica, target replica) pairs for a ppermute over `names`."""
        self._check(names)
        pairs = []
        for base in self._others(names):
            members = self._linear_members(names, base)
            pairs.extend((members[s], members[d]) for s, d in perm)
        return pairs

    def index_stride(self, name) -> tuple[int, int]:
        """(stride, size) of `name`: its index is (replica_id // stride) % size."""
        self._check((name,))
        return self.strides[name], self.sizes[name]

    # the op that numbers the participants: pmap's run one replica each
    id_op = "stablehlo.replica_id"

    def channel(self, ctx, global_ids: bool = True) -> str:
        """Extra attributes a collective needs in this context (none among replicas)."""
        return ""


class MeshAxes(ReplicaAxes):
    """The axis context of shard_map's body: the axes of a mesh, in one program that XLA's
    partitioner splits over the mesh's devices (partition p on device p of
    `mesh.flat_devices`). The groups are the same grid arithmetic over partition ids, which a
    collective reads as global device ids on a channel of its own (as JAX writes them)."""
    id_op = "stablehlo.partition_id"

    def __init__(self, mesh):
        super().__init__(mesh.shape_tuple)

    def channel(self, ctx, global_ids: bool = True) -> str:
        # any handle unique within the module will do: the module's name counter gives one
        handle = next(ctx.module.counter) + 1
        text = f", channel_handle = #stablehlo.channel_handle<handle = {handle}, type = 1>"
        return text + (", use_global_device_ids" if global_ids else "")


def replica_axes(ctx, who: str) -> ReplicaAxes:
    """The axis context of the module being lowered, or an error when there is none."""
    axes = ctx.module.axis_context
    if not isinstance(axes, ReplicaAxes):
        raise NameError(f"{who} can only be compiled inside pmap (or computed under vmap with an "
                        "axis_name); this program is not a pmap program")
    return axes


def groups_attr(groups: Sequence[Sequence[int]]) -> str:
    """The `replica_groups` attribute; groups of several sizes are padded with -1, as XLA
    reads them."""
    arr = np.asarray(list(itertools.zip_longest(*groups, fillvalue=-1)), dtype=np.int64).T
    body = "[" + ", ".join("[" + ", ".join(map(str, row)) + "]" for row in arr.tolist()) + "]"
    return f"replica_groups = dense<{body}> : tensor<{arr.shape[0]}x{arr.shape[1]}xi64>"


def pairs_attr(pairs: Sequence[tuple[int, int]]) -> str:
    body = "[" + ", ".join(f"[{s}, {d}]" for s, d in pairs) + "]"
    return f"source_target_pairs = dense<{body}> : tensor<{len(pairs)}x2xi64>"
