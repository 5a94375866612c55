"""The devices spmd computes on, as JAX names them: `devices()` are all devices of the job,
`local_devices()` those of this process (what pmap maps over by default); and placing values
on them in the layout pmap maps over (`device_put_sharded`, `device_put_replicated`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from spmd.transforms import backend as _backend
from spmd.transforms import core, tree_util
from spmd.transforms.array import Array


def devices(backend=None) -> list:
    """Every device of the job, ordered by process then local index."""
    return _backend.devices()


def local_devices(process_index=None, backend=None) -> list:
    """The devices this process drives (or, given `process_index`, that process's devices)."""
    if process_index is None:
        return _backend.local_devices()
    return [d for d in _backend.devices() if d.process_index == process_index]


def device_count(backend=None) -> int:
    return len(_backend.devices())


def local_device_count(backend=None) -> int:
    return len(_backend.local_devices())


def process_index(backend=None) -> int:
    """This process's rank in the job (0 when it runs alone)."""
    return _backend.process_index()


def process_count(backend=None) -> int:
    """How many processes the job has (1 when it runs alone)."""
    return len({d.process_index for d in _backend.devices()})


def device_put_sharded(shards: Sequence, devices: Sequence):
    """Stack `shards` (one pytree per device, all of one structure, shapes and dtypes) into
    pytrees of Arrays with a leading axis of len(devices), row i on devices[i]: the layout pmap
    maps over, so a pmap over these devices takes them with no copy."""
    if len(shards) != len(devices):
        raise ValueError(f"device_put_sharded got {len(shards)} shards for {len(devices)} "
                         "devices; pass one shard per device")
    return tree_util.tree_map(lambda *xs: _stack(xs, devices), shards[0], *shards[1:])


def device_put_replicated(x, devices: Sequence):
    """`x` (a pytree) copied to each of `devices`, stacked along a new leading axis (as
    device_put_sharded of len(devices) copies)."""
    return tree_util.tree_map(lambda v: _stack([v] * len(devices), devices), x)


def _stack(xs, devices) -> Array:
    avals = [core.get_aval(x) for x in xs]
    if any(a.shape != avals[0].shape or a.dtype != avals[0].dtype for a in avals):
        raise ValueError("device_put_sharded needs shards of one shape and dtype, got "
                         + ", ".join(a.str_short() for a in avals))
    aval = avals[0].strip_weak()
    host = [np.asarray(x, dtype=aval.dtype).reshape((1,) + aval.shape) for x in xs]
    stacked = aval.update(shape=(len(devices),) + aval.shape)
    return Array(_backend.device_put_sharded(host, stacked, list(devices)), stacked)
