"""Where a computation runs. As in JAX, computation follows data: a program (an eager op or a
jitted function) runs on the device that holds its arguments, and a value on another device
is moved there first. Arrays on the default device count as placed nowhere in particular (JAX's
uncommitted arrays: what `jnp.asarray` and results computed from them are), so one argument
put on device 3 draws the whole computation there; arguments on two other devices disagree."""
from __future__ import annotations

from spmd.transforms import backend
from spmd.transforms.array import Array


def device_for(args, device=None, what: str = "this computation"):
    """`device` when given; else the one non-default device holding single-device Array
    arguments; else the default device."""
    if device is not None:
        return device
    default = backend.default_device()
    found = None
    for x in args:
        if type(x) is not Array:
            continue
        d = backend.single_device_of(x._buf)
        if d is None or d == default or d == found:
            continue
        if found is not None:
            raise ValueError(
                f"Received incompatible devices for {what}: arguments live on {found} and on "
                f"{d}. Put them on one device first (spmd.device_put(x, device)), or choose the "
                "device with jit(f, device=...)")
        found = d
    return default if found is None else found



def check_device(device, what: str) -> None:
    """`device=`: None or one of this process's devices (`spmd.local_devices()`)."""
    if device is None:
        return
    local = backend.local_devices()
    if not any(device is d or device == d for d in local):
        raise ValueError(f"{what}: device={device!r} is not one of this process's devices "
                         f"{local}: pass one of spmd.local_devices()")
