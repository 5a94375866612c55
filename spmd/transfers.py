"""Moving values between the host and the devices, as JAX names it: `device_put` (onto a
device), `device_get` (back to NumPy), `block_until_ready` (wait for pending work) and
`copy_to_host_async`, each over a pytree of values."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend as _backend
from spmd.transforms import core, placement, tree_util
from spmd.transforms.array import Array, make_array
from spmd.transforms.lax.sharding_constraint import device_put_sharding
from spmd.transforms.named_sharding import Sharding, SingleDeviceSharding


def device_put(x, device=None, *, src=None, donate: bool = False, may_alias=None):
    """`x` (a pytree of arrays and scalars) as Arrays on `device` (a Device of
    spmd.local_devices(); None: the default device, or where an Array already is), or laid out
    by a Sharding (a NamedSharding over a mesh, or a pytree prefix of them; under jit a sharding
    constraint). An Array already there is returned as it is unless `may_alias=False`;
    `donate=True` uses up an Array that was copied. Under a transform the values pass through
    unchanged."""
    if isinstance(device, SingleDeviceSharding):
        device = device._device
    if isinstance(device, Sharding) or (device is not None and not _is_device(device)
                                        and any(isinstance(s, Sharding)
                                                for s in tree_util.tree_leaves(device))):
        return device_put_sharding(x, device)
    placement.check_device(device, "device_put")
    if donate and may_alias is False:
        raise ValueError("device_put: donate=True and may_alias=False cannot be combined "
                         "(a donated input is always reused when it can be)")
    with _backend.explicit_transfers():  # the transfer guard's levels tell explicit ones apart
        return tree_util.tree_map(lambda v: _put(v, device, donate, may_alias), x)


def _put(x, device, donate: bool, may_alias):
    if isinstance(x, core.Tracer):
        return x
    if type(x) is not Array:
        return make_array(x, device=device)
    if may_alias is not False and (device is None or device == _single_device(x)):
        return x
    moved = Array(_backend.device_put(np.asarray(x), x.aval, device) if x.is_multi_device
                  else _backend.copy_to_device(x._buf, device or _single_device(x)),
                  x.aval)
    if donate:
        x.delete()
    return moved


def _is_device(device) -> bool:
    return any(device is d or device == d for d in _backend.local_devices())


def _single_device(x: Array):
    return None if x.is_multi_device else _backend.single_device_of(x._buf)


def device_get(x):
    """`x` (a pytree) with every Array brought to the host as a NumPy array; other leaves
    as they are (anything with `__array__` converted)."""
    with _backend.explicit_transfers():
        return tree_util.tree_map(_get, x)


def _get(x):
    if isinstance(x, core.Tracer):
        return x
    to_array = getattr(x, "__array__", None)
    return x if to_array is None else to_array()


def block_until_ready(x):
    """Wait until every Array in the pytree `x` is computed; returns `x`."""
    return _call_on_leaves(x, "block_until_ready")


def copy_to_host_async(x):
    """Start copying every Array leaf of the pytree `x` to the host; returns `x`."""
    return _call_on_leaves(x, "copy_to_host_async")


def _call_on_leaves(x, method: str):
    """`leaf.method()` for each leaf of `x` that has the method; returns `x`."""
    for leaf in tree_util.tree_leaves(x):
        call = getattr(leaf, method, None)
        if call is not None:
            call()
    return x
