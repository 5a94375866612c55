"""`place(x, sharding)`: an array laid out as `sharding` says (what `device_put(x, sharding)`
does for a Sharding). Inside a traced function it is a sharding constraint instead."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core, dtypes
from spmd.transforms.array import Array, make_array
from spmd.transforms.named_sharding import (NamedSharding, SingleDeviceSharding,
                                            backend_sharding, check_fits, resolve)


def place(x, sharding, what: str = "the array"):
    """`x` (an Array, a NumPy array or a Python scalar) as an Array laid out by `sharding` (a
    NamedSharding, a SingleDeviceSharding, or a PartitionSpec under a current mesh). An Array
    already laid out so is returned as it is; anything else is copied block by block."""
    sharding = resolve(sharding, f"placing {what}")
    if isinstance(x, core.Tracer):
        # lazy: the constraint primitive lives in lax, which imports this layer's modules
        from spmd.transforms.lax.sharding_constraint import with_sharding_constraint
        return with_sharding_constraint(x, sharding)
    aval = core.get_aval(x)
    if isinstance(sharding, SingleDeviceSharding):
        if type(x) is Array and not x.is_multi_device and x.sharding == sharding:
            return x
        return make_array(_host(x, aval), aval.weak_type, device=sharding._device)
    check_fits(sharding, aval.shape, what)
    target = backend_sharding(sharding, aval.ndim)
    if type(x) is Array and x._buf._sharding is target:
        return x
    host = _host(x, aval)
    blocks = [np.ascontiguousarray(host[index]) for index in sharding._indices(aval.shape)]
    return Array(backend.device_put_partitioned(blocks, aval, target), aval)


def _host(x, aval) -> np.ndarray:
    if type(x) is Array:
        x._check_alive()
    return np.asarray(x, dtype=aval.dtype)


def placed_like(x, sharding: NamedSharding, what: str):
    """An argument for a program compiled for `sharding`: as it is when laid out so, else
    moved there."""
    if aval_dtype(x) == dtypes.float0:
        raise TypeError(f"{what} is a float0 array, which holds no data to place on a mesh")
    return place(x, sharding, what)


def aval_dtype(x):
    return core.get_aval(x).dtype
