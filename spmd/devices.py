"""The devices spmd computes on, as JAX names them: `devices()` are all devices of the job,
`local_devices()` those of this process (what pmap maps over by default); the devices of a
pmap's mapped axis (`devices_for`); and placing values on them in the layout pmap maps over
(`device_put_sharded`, `device_put_replicated`)."""
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


def devices_for(size: int, devices=None) -> list:
    """The devices of the whole mapped axis, for arguments whose mapped axis has `size` on this
    process: `devices` (checked), the first `size` local ones, or, in a job of several
    processes, every device of the job in process order (as in JAX: process i passes the
    rows of its own devices, global indices i*L .. (i+1)*L-1)."""
    if devices is not None:
        devices = list(devices)
        me = _backend.process_index()
        mine = [d for d in devices if d.process_index == me]
        if len(mine) == len(devices) and len(devices) != size:
            raise ValueError(f"pmap was given {len(devices)} devices (devices=), but the mapped "
                             f"axis has size {size}: pass exactly one device per element of the "
                             f"mapped axis ({size} devices), or map over {len(devices)} elements")
        if len(mine) != size:
            raise ValueError(f"pmap was given {len(devices)} devices (devices=) of several "
                             f"processes, {len(mine)} of them on this process (process {me}), "
                             f"but this process's arguments have a mapped axis of size {size}: "
                             "each process passes one element of the mapped axis per device of "
                             f"its own, so here {len(mine)}")
        return devices
    local = _backend.local_devices()
    everyone = _backend.devices()
    if len(everyone) > len(local):
        if size != len(local):
            processes = len({d.process_index for d in everyone})
            raise ValueError(
                f"pmap in a job of {processes} processes maps over all {len(everyone)} devices "
                f"of the job, each process passing the rows of its own devices: this process "
                f"has {len(local)} devices, so the mapped axis of its arguments must have size "
                f"{len(local)}, but it has size {size}. Reshape this process's part of the "
                f"batch to ({len(local)}, -1, ...), or give devices=spmd.local_devices()[:{size}] "
                "for a map over this process's devices alone.")
        return sorted(everyone, key=lambda d: d.process_index)
    if size > len(local):
        kind = local[0].platform.upper() if local else "XLA"
        raise ValueError(
            f"pmap: the mapped axis has size {size}, but this process has only {len(local)} "
            f"{kind} device{'s' if len(local) != 1 else ''}. Map over at most {len(local)} "
            f"elements (e.g. reshape the batch to ({len(local)}, -1, ...)), or, on CPU, start "
            f"the program with more devices: set SPMD_CPU_DEVICES={size} (or "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={size}) in the environment "
            "before spmd is first used.")
    return local[:size]
