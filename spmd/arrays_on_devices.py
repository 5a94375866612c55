"""JAX's names for the arrays a process holds and the work it has launched: `Device` and
`Shard` (types), `live_arrays` and `effects_barrier`."""
from __future__ import annotations

import gc

from spmd.transforms import backend, inflight
from spmd.transforms.array import Array, Shard  # noqa: F401  (jax.Shard)

Device = backend.Device


def live_arrays(platform=None) -> list:
    """Every Array of this process whose buffers are still held (not deleted), as JAX's
    `jax.live_arrays()`; `platform` may be None or 'cpu'. A debugging aid: it walks the
    objects Python's garbage collector tracks, so it takes milliseconds."""
    if platform not in (None, "cpu"):
        raise ValueError(f"live_arrays: spmd runs on XLA's CPU devices only; platform must be "
                         f"None or 'cpu', got {platform!r}")
    held = {id(buf) for buf in backend.live_buffers()}
    return [x for x in gc.get_objects()
            if type(x) is Array and id(x._buf) in held and not x.is_deleted()]


def effects_barrier() -> None:
    """Waits until every computation launched so far has run its side effects (the Python of
    debug.print, debug.callback and io callbacks), as jax.effects_barrier."""
    inflight.wait_all()
    backend.wait_for_effects()
