"""`place(x, sharding)`: a value laid out as `sharding` says. `device_put(x, sharding)` is
this for a value, a sharding constraint for a traced one (`device_put_sharding` in
transforms/lax/sharding_constraint.py does both)."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core
from spmd.transforms.array import Array, make_array
from spmd.transforms.named_sharding import (SingleDeviceSharding, backend_sharding,
                                            check_fits, resolve)


def place(x, sharding, what: str = "the array"):
    """`x` (an Array, a NumPy array or a Python scalar) as an Array laid out by `sharding` (a
    NamedSharding, a SingleDeviceSharding, or a PartitionSpec under a current mesh). An Array
    already laid out so is returned as it is; anything else is copied block by block."""
    sharding = resolve(sharding, f"placing {what}")
    if isinstance(x, core.Tracer):
        raise TypeError(f"cannot place {what}, a traced value, on devices: inside a traced "
                        "function use lax.with_sharding_constraint")
    aval = core.get_aval(x)
    if isinstance(sharding, SingleDeviceSharding):
        if type(x) is Array and not x.is_multi_device and x.sharding == sharding:
            return x
        return make_array(_host(x, aval), aval.weak_type, device=sharding._device)
    check_fits(sharding, aval.shape, what)
    target = backend_sharding(sharding, aval.ndim)
    if type(x) is Array and x._buf._sharding is target:
        return x
    return put_blocks(_host(x, aval), aval, sharding._indices(aval.shape), target)


def put_blocks(host: np.ndarray, aval, indices, target) -> Array:
    """A host array of type `aval` laid out as `target` (a backend sharding): device k of the
    layout gets the block `host[indices[k]]`."""
    blocks = [np.ascontiguousarray(host[index]) for index in indices]
    return Array(backend.device_put_partitioned(blocks, aval, target), aval)


def _host(x, aval) -> np.ndarray:
    if type(x) is Array:
        x._check_alive()
    return np.asarray(x, dtype=aval.dtype)

