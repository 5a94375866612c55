"""JAX's transfer guard for device-to-host reads. jaxlib checks host-to-device and
device-to-device transfers itself (backend.py sets its levels); spmd reads device buffers
through DLPack, which jaxlib does not check, so an Array's first read to the host is checked
here, with jaxlib's words. `device_get` (and `device_put`) are explicit transfers, which the
levels 'allow', 'log' and 'disallow' let through; '*_explicit' guards them too."""
from __future__ import annotations

import logging

from spmd.transforms import backend
from spmd.transforms.config import config

logger = logging.getLogger("spmd.transfers")


def check_device_to_host(array) -> None:
    """Raises (or logs) per config.transfer_guard_device_to_host before a read to the host."""
    level = config.transfer_guard_device_to_host
    if level == "allow":  # the default: one dict read on the first read of each Array
        return
    explicit = backend.explicit_device_get()
    if level.endswith("_explicit") or not explicit:
        what = (f"device-to-host transfer: aval={array.aval!r}, "
                f"sharding={array.sharding!r}")
        if level.startswith("disallow"):
            raise backend.JaxRuntimeError(f"INVALID_ARGUMENT: Disallowed {what}")
        logger.warning("%s", what)
