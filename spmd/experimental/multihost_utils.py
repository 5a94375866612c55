"""JAX's jax.experimental.multihost_utils: helpers for a job of several processes. Host values
go through the coordinator's key-value store (spmd.distributed's helpers); an Array spanning
the devices of several processes is gathered by its devices, in one program over its mesh."""
from __future__ import annotations

import numpy as np

from spmd.cluster.host_collectives import (assert_equal, broadcast_one_to_all,  # noqa: F401
                                           sync_global_devices)
from spmd.cluster import host_collectives
from spmd.transforms import tree_util
from spmd.transforms.array import Array
from spmd.transforms.mesh_placement import place
from spmd.transforms.named_sharding import NamedSharding


def process_allgather(in_tree, tiled: bool = False):
    """Every process's values, as NumPy arrays. A leaf that is an Array spanning the devices
    of several processes comes back whole (its global value; `tiled` does not apply). Any
    other leaf is this process's part: the parts are stacked on a new leading axis in
    process order, or concatenated along axis 0 with `tiled=True`."""
    leaves, tree = tree_util.tree_flatten(in_tree)
    spans = [type(x) is Array and not x.is_fully_addressable for x in leaves]
    out = [_whole(x) if s else None for x, s in zip(leaves, spans)]
    local = [x for x, s in zip(leaves, spans) if not s]
    if local:  # every process has the same tree, so the same leaves go this way
        gathered = iter(host_collectives.process_allgather(local, tiled=tiled))
        out = [next(gathered) if o is None else o for o in out]
    return tree_util.tree_unflatten(tree, out)


def _whole(x: Array) -> np.ndarray:
    """The global value of an Array spanning processes: replicated over its mesh by its
    devices, then read from this process's copy."""
    replicated = place(x, NamedSharding(x.sharding.mesh))
    return np.array(replicated)
