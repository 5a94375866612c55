"""`place(x, sharding)`: a value laid out as `sharding` says. `device_put(x, sharding)` is
this for a value, a sharding constraint for a traced one (`device_put_sharding` in
transforms/lax/sharding_constraint.py does both).

Across processes (a mesh over the devices of several processes), each process holds only its
own devices' blocks: a host value is laid out from the process's own copy (as in JAX, every
process passes the same value), and an Array spanning processes is laid out anew by a program
over its devices (no process can read the others' blocks)."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core
from spmd.transforms.array import Array, make_array
from spmd.transforms.named_sharding import (SingleDeviceSharding, backend_sharding,
                                            check_fits, resolve)


def place(x, sharding, what: str = "the array", check_same: bool = True):
    """`x` (an Array, a NumPy array or a Python scalar) as an Array laid out by `sharding` (a
    NamedSharding, a SingleDeviceSharding, or a PartitionSpec under a current mesh). An Array
    already laid out so is returned as it is; anything else is copied block by block. A host
    value laid out over the devices of several processes must be the same in each: with
    `check_same` (device_put's case, as in JAX) the processes compare digests of it."""
    sharding = resolve(sharding, f"placing {what}")
    if isinstance(x, core.Tracer):
        raise TypeError(f"cannot place {what}, a traced value, on devices: inside a traced "
                        "function use lax.with_sharding_constraint")
    aval = core.get_aval(x)
    if type(x) is Array and not x.is_fully_addressable:
        return _relaid_across_processes(x, sharding, aval, what)
    if isinstance(sharding, SingleDeviceSharding):
        if type(x) is Array and not x.is_multi_device and x.sharding == sharding:
            return x
        return make_array(_host(x, aval), aval.weak_type, device=sharding._device)
    check_fits(sharding, aval.shape, what)
    target = backend_sharding(sharding, aval.ndim)
    if type(x) is Array and x._buf._sharding is target:
        return x
    host = _host(x, aval)
    if not sharding.is_fully_addressable:
        check_every_process(sharding, what)
        if check_same:
            same_everywhere[0](host, f"{what} laid out on {sharding}")
    return put_blocks(host, aval, local_indices(sharding, aval.shape), target)


def local_indices(sharding, shape: tuple) -> list:
    """The block of an array of `shape` each of this process's devices of `sharding` holds
    (in their order)."""
    indices = sharding._indices(shape)
    return [indices[i] for i in sharding._local_positions()]


def put_blocks(host: np.ndarray, aval, indices, target) -> Array:
    """A host array of type `aval` laid out as `target` (a backend sharding): this process's
    device k of the layout gets the block `host[indices[k]]` (`local_indices`)."""
    blocks = [np.ascontiguousarray(host[index]) for index in indices]
    return Array(backend.device_put_partitioned(blocks, aval, target), aval)


def check_every_process(sharding, what: str) -> None:
    """Raise unless `sharding` spans the devices of every process of the job (a host value
    can be laid out over them: each process passes the same value and keeps its blocks)."""
    theirs = sharding._process_indices()
    job = {d.process_index for d in backend.devices()}
    if theirs != job:
        mine = backend.process_index()
        raise ValueError(
            f"cannot place {what} on {sharding}: its devices belong to processes "
            f"{sorted(theirs)} of the job's {sorted(job)}, and this process ({mine}) can lay a "
            "value out only over its own devices (spmd.local_devices()) or over the devices "
            "of every process (each passing the same value); build the mesh from those")


def _relaid_across_processes(x: Array, sharding, aval, what: str) -> Array:
    """An Array spanning processes laid out anew by `sharding`, over the same devices."""
    if sharding == x.sharding:
        return x
    if getattr(sharding, "mesh", None) != x.sharding.mesh:
        raise ValueError(
            f"cannot move {what} ({aval.str_short()}, on {x.sharding}) onto {sharding}: it "
            "spans the devices of several processes, and such an array can only be laid out "
            "anew over the same mesh; to bring it whole to this process use "
            "spmd.experimental.multihost_utils.process_allgather(x, tiled=True)")
    check_fits(sharding, aval.shape, what)
    return resharding[0](x, sharding)


# `(host value, what)`: raise unless every process passes the same value; spmd/mesh_processes.py
# installs it (the processes compare through the coordinator, which this layer cannot reach)
same_everywhere: list = [lambda host, what: None]

# the program that lays an Array spanning processes out anew: a jit over its mesh, which
# transforms/partitioned_jit.py (whose programs place their arguments here) installs
resharding: list = [None]


def _host(x, aval) -> np.ndarray:
    if type(x) is Array:
        x._check_alive()
    return np.asarray(x, dtype=aval.dtype)
