"""Host values onto this process's devices and back, in pmap's layout: an array of shape
[L, ...] is one spmd.Array stacked over L local devices, slice i on device i.

`put_stacked` places a batch (each device its own slice); `replicate` places the same value on
every device (parameters before a pmapped train step); `unreplicate` brings one replica back
(what to checkpoint or evaluate), fetching only the first device's buffer."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from spmd.data import topology
from spmd.transforms import backend, dtypes, tree_util
from spmd.transforms.array import Array
from spmd.transforms.core import ShapedArray


def _canonical(x: np.ndarray) -> np.ndarray:
    """x in the dtype the backend stores (64-bit narrowed without x64); no copy if it is."""
    return x.astype(dtypes.canonicalize(x.dtype), copy=False)


def _stack_on_devices(shards: Sequence[np.ndarray], devices: Sequence) -> Array:
    """`shards[i]` (each of shape (1, ...), already canonical) on `devices[i]`, as one Array of
    shape (len(devices), ...). Over a single device it is a plain one-device Array, which jit
    takes as it is (a stacked one would be gathered through the host first)."""
    aval = ShapedArray((len(devices),) + shards[0].shape[1:], shards[0].dtype)
    if len(devices) == 1:
        return Array(backend.device_put(shards[0], aval, devices[0]), aval)
    return Array(backend.device_put_sharded(list(shards), aval, list(devices)), aval)


def put_stacked(x: np.ndarray, devices: Sequence) -> Array:
    """`x[i]` onto `devices[i]`, as one Array of x's shape (64-bit narrowed without x64)."""
    if np.shape(x)[:1] != (len(devices),):
        raise ValueError(f"put_stacked: an array of shape {np.shape(x)} needs a leading axis "
                         f"equal to the number of devices, {len(devices)}")
    host = _canonical(x)
    return _stack_on_devices([host[i:i + 1] for i in range(len(devices))], devices)


def replicate(tree, devices: Sequence | None = None):
    """Every leaf copied to each of `devices` (default: the local devices), with a new
    leading axis of size len(devices): the replicated parameters a pmapped step takes."""
    devices = topology.local_devices() if devices is None else list(devices)

    def put(x):
        one = _canonical(np.asarray(x))[None]
        return _stack_on_devices([one] * len(devices), devices)
    return tree_util.tree_map(put, tree)


def unreplicate(tree):
    """The first replica of every leaf of a replicated tree (leading axis = devices), as NumPy."""
    def first(x):
        if isinstance(x, Array) and x.is_sharded:
            return backend.shard_to_numpy(x._buf, 0, x.dtype).reshape(x.shape[1:]).copy()
        return np.array(np.asarray(x)[0])
    return tree_util.tree_map(first, tree)
