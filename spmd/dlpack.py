"""`spmd.dlpack`, as `jax.dlpack`: arrays from other libraries through the DLPack protocol.
The other way, an spmd Array has `__dlpack__` (`np.from_dlpack(x)` views its buffer)."""
from __future__ import annotations

import numpy as np

from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms import backend, dtypes, placement
from spmd.transfers import device_put
from spmd.transforms.array import Array
from spmd.transforms.core import ShapedArray
from spmd.transforms.named_sharding import Sharding

__all__ = ["from_dlpack", "is_supported_dtype"]

_DL_CPU = 1  # DLPack's device type of host memory (kDLCPU), where XLA's CPU devices compute

SUPPORTED_DTYPES = frozenset(np.dtype(d) for d in (
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, dtypes.bfloat16, np.float32, np.float64, np.complex64, np.complex128, np.bool_))


def is_supported_dtype(dtype) -> bool:
    """Whether arrays of `dtype` pass through DLPack to and from spmd."""
    if dtype is None:  # NumPy would read None as float64
        raise TypeError(f"Expected a string or dtype-like object; got {dtype=}")
    return np.dtype(dtype) in SUPPORTED_DTYPES


def from_dlpack(external_array, device=None, copy: bool | None = None) -> Array:
    """An Array from any object with `__dlpack__` and `__dlpack_device__` (a NumPy array, a
    PyTorch CPU tensor...). `copy=True` copies; `copy=False` shares the memory of
    `external_array` or raises where that is impossible (memory not aligned as XLA needs, a
    `device` other than the first, a 64-bit dtype without x64); `copy=None` shares where it
    can."""
    if isinstance(device, Sharding):
        found = device.device_set
        if len(found) > 1:
            raise ValueError("from_dlpack can only unpack a dlpack tensor onto a singular "
                             f"device, but a Sharding with {len(found)} devices was provided.")
        device, = found
    placement.check_device(device, "from_dlpack")
    if not (hasattr(external_array, "__dlpack__")
            and hasattr(external_array, "__dlpack_device__")):
        raise TypeError("The array passed to from_dlpack must have __dlpack__ and "
                        "__dlpack_device__ methods.")
    kind, _ = external_array.__dlpack_device__()
    if kind != _DL_CPU:
        raise TypeError(f"Array passed to from_dlpack is on unsupported device type "
                        f"(DLDeviceType: {kind}): spmd's devices compute in host memory "
                        "(DLPack device type 1); copy it to the host first")
    source = backend.local_devices()[0]
    if device is not None and device != source and copy is False:
        raise ValueError(f"Specified device={device} which requires a copy since the source "
                         f"device is {source!r}, however copy=False. Set copy=True or "
                         "copy=None to perform the requested operation.")
    capsule = external_array.__dlpack__()
    shape, dtype = backend.dlpack_shape_dtype(capsule)
    aval = ShapedArray(shape, dtype)
    try:
        buf = backend.from_dlpack(capsule, aval, source, copy)
        if copy:  # jaxlib's import may still share host memory on CPU: copy for certain
            buf = backend.copy_to_device(buf, source)
        x = Array(buf, aval)
    except backend.JaxRuntimeError as e:
        reason = str(e)
        if "is not aligned to" not in reason:
            raise
        raise ValueError("Specified input which requires a copy since the source data buffer "
                         f"{reason[reason.index('is not aligned to'):].strip()} However "
                         "copy=False. Set copy=True or copy=None to perform the requested "
                         "operation.") from None
    if dtypes.canonicalize(aval.dtype) != aval.dtype:  # 64-bit without x64: narrowed
        if copy is False:
            raise ValueError(f"from_dlpack of a {aval.dtype} array needs a copy to "
                             f"{dtypes.canonicalize(aval.dtype)} (x64 is disabled), "
                             "however copy=False. Enable x64 or set copy=None")
        x = x.astype(dtypes.canonicalize(aval.dtype))
    if device is not None and device != source:
        x = device_put(x, device)
    return x


__getattr__ = _module_getattr("spmd.dlpack", "jax.dlpack")
