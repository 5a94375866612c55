"""Arrays built from their parts, as JAX 0.10.2 builds them: `make_array_from_callback` (each
device's block from a function of its index), `make_array_from_single_device_arrays` (one
Array per device of this process) and `make_array_from_process_local_data` (this process's
slice of a global array). Across processes each process gives only its own devices' blocks,
and the result is one global Array that holds them; in one process they hold every block."""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core, dtypes, tree_util
from spmd.transforms.arguments import shardings_per_leaf
from spmd.transforms.array import Array
from spmd.transforms.core import ShapedArray
from spmd.transforms.named_sharding import (NamedSharding, Sharding, SingleDeviceSharding,
                                            backend_sharding, check_fits, resolve)
from spmd.transforms.mesh_placement import place


def make_array_from_callback(shape, sharding, data_callback, dtype=None) -> Array:
    """The Array of `shape` laid out by `sharding` whose block on each device of this process
    is `data_callback(index)` (index: a tuple of slices into the global array)."""
    sharding = _sharding(sharding, "make_array_from_callback")
    shape = _shape(shape, "make_array_from_callback")
    check_fits(sharding, shape, "the array of make_array_from_callback")
    indices = sharding._indices(shape)
    local = sharding._local_positions()
    if sharding.is_fully_replicated and local:  # one call: every block is the whole
        whole = _block(data_callback(indices[local[0]]))
        blocks = [whole] * len(local)
    else:
        blocks = [_block(data_callback(indices[i])) for i in local]
    return _assemble(shape, sharding, blocks, dtype, "make_array_from_callback",
                     "the callback's result for")


def make_array_from_single_device_arrays(shape, sharding, arrays, *, dtype=None) -> Array:
    """The Array of `shape` laid out by `sharding` whose blocks are `arrays`: one Array on each
    device of `sharding` that this process holds, in any order."""
    where = "make_array_from_single_device_arrays"
    sharding = _sharding(sharding, where)
    shape = _shape(shape, where)
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"spmd.{where} `arrays` argument must be a list or tuple, but got "
                        f"{type(arrays).__name__}")
    if any(isinstance(a, core.Tracer) for a in arrays):
        raise ValueError(f"spmd.{where} requires a list of concrete arrays as input, but got "
                         f"a traced value; call it outside jit/grad/vmap")
    check_fits(sharding, shape, f"the array of {where}")
    by_device = {}
    for k, a in enumerate(arrays):
        if type(a) is not Array or a.is_multi_device:
            raise TypeError(f"spmd.{where}: arrays[{k}] must be an Array on one device (e.g. "
                            f"from spmd.device_put(x, device)), got "
                            f"{type(a).__name__ if type(a) is not Array else a.sharding}")
        device = backend.single_device_of(a._buf)
        if device in by_device:
            raise ValueError(f"spmd.{where}: arrays[{k}] is on {device}, like an earlier one; "
                             "give one array per device of the sharding")
        by_device[device] = a
    devices = sharding._device_list()
    local = [devices[i] for i in sharding._local_positions()]
    if set(by_device) != set(local):
        raise ValueError(
            f"spmd.{where} needs one array on each device of {sharding} in this process "
            f"({len(local)}: ids {sorted(d.id for d in local)}), but got {len(arrays)} on "
            f"devices {sorted(d.id for d in by_device)}")
    blocks = [np.asarray(by_device[d]) for d in local]
    return _assemble(shape, sharding, blocks, dtype, where, "the array on")


def make_array_from_process_local_data(sharding, local_data, global_shape=None):
    """A global Array (a pytree of them) from this process's part of it: each dimension of
    `local_data` is either the whole global dimension or the part this process's devices hold.
    `global_shape` (per leaf; default: inferred from the sharding) says which. In one process
    it is `device_put(local_data, sharding)`."""
    where = "make_array_from_process_local_data"
    leaves, tree = tree_util.tree_flatten(local_data)
    shardings = [resolve(s, where) for s in shardings_per_leaf(sharding, tree,
                                                                f"{where} shardings")]
    shapes = tree_util.tree_leaves(
        tree_util.tree_broadcast(global_shape, local_data,
                                 is_leaf=lambda x: x is None or isinstance(x, tuple)),
        is_leaf=lambda x: x is None or isinstance(x, tuple))
    if len({d.process_index for d in backend.devices()}) == 1:
        out = []
        for data, s, g in zip(leaves, shardings, shapes):
            if g is not None and tuple(g) != np.shape(data):
                raise ValueError(f"When calling `{where}` on a single process, global_shape "
                                 f"should be None or equal to local_data.shape. Got "
                                 f"global_shape={tuple(g)} and local_data.shape="
                                 f"{np.shape(data)}.")
            out.append(place(data, s))
        return tree_util.tree_unflatten(tree, out)
    return tree_util.tree_unflatten(tree, [_from_local(np.asarray(d), s, g)
                                           for d, s, g in zip(leaves, shardings, shapes)])


def _from_local(data: np.ndarray, sharding, global_shape) -> Array:
    """One leaf across processes: this process's slices of each dimension, in order."""
    sharding = _sharding(sharding, "make_array_from_process_local_data")
    if global_shape is None:
        global_shape = local_to_global_shape(sharding, data.shape)
        if None in global_shape:
            raise ValueError(f"Unable to compute global_shape due to non-uniform sharding. "
                             f"Specify global shape directly. Partially computed "
                             f"global_shape={global_shape}.")
    global_shape = _shape(global_shape, "make_array_from_process_local_data")
    if len(global_shape) != data.ndim:
        raise ValueError(f"make_array_from_process_local_data: global_shape={global_shape} "
                         f"has rank {len(global_shape)} but the local data has shape "
                         f"{data.shape}; give one size per dimension")
    check_fits(sharding, global_shape, "the array of make_array_from_process_local_data")
    part = ProcessPart(sharding, global_shape)
    whole = {d for d, (n, g) in enumerate(zip(data.shape, global_shape)) if n == g}
    for d, n in enumerate(data.shape):
        if d not in whole and n != part.shape[d]:
            raise ValueError(f"Invalid host data, each dimension should match either global or "
                             f"process shape. In dimension {d}, the process data has {n} "
                             f"elements. Process addresses {part.shape[d]} elements and "
                             f"global_shape={global_shape}.")
    return make_array_from_callback(global_shape, sharding,
                                    lambda index: data[part.local_index(index, whole)])


class ProcessPart:
    """This process's part of a global array of `shape` laid out by `sharding`, as one
    process-local array: along each dimension, the blocks its devices hold, in order."""

    def __init__(self, sharding, shape: tuple):
        indices = sharding._indices(shape)
        local = [indices[i] for i in sharding._local_positions()]
        self.starts = [sorted({_start(index[d]) for index in local}) for d in range(len(shape))]
        self.block = sharding.shard_shape(shape)
        self.shape = tuple(b * len(s) for b, s in zip(self.block, self.starts))

    def local_index(self, index: tuple, whole=()) -> tuple:
        """Where the block at global `index` sits in the process-local array (dimensions in
        `whole` are given whole, so there it sits where it sits globally)."""
        out = []
        for d, s in enumerate(index):
            k = self.starts[d].index(_start(s))
            out.append(s if d in whole else slice(k * self.block[d], (k + 1) * self.block[d]))
        return tuple(out)

    def value(self, x: Array) -> np.ndarray:
        """This process's part of `x`, from its addressable shards."""
        out = np.empty(self.shape, x.dtype)
        for shard in x.addressable_shards:
            out[self.local_index(shard.index)] = np.asarray(shard.data)
        return out


def local_to_global_shape(sharding, local_shape) -> tuple:
    """The global shape whose part this process holds has `local_shape`: each dimension times
    the number of processes' slices along it (None where the slices are not uniform)."""
    out = []
    for d, n in enumerate(local_shape):
        tiles = _tiles_along(sharding, d, len(local_shape))
        mine = len({_start(index[d]) for index in _local_indices(sharding, local_shape, tiles, d)})
        out.append(n // mine * tiles if n % mine == 0 else None)
    return tuple(out)


def _tiles_along(sharding, d: int, ndim: int) -> int:
    return sharding._layout(ndim)[0][d] if isinstance(sharding, NamedSharding) else 1


def _local_indices(sharding, local_shape, tiles: int, d: int) -> list:
    """This process's blocks' indices in an array `tiles` blocks long along `d`."""
    probe = tuple(tiles if k == d else 1 for k in range(len(local_shape)))
    indices = sharding._indices(probe) if isinstance(sharding, NamedSharding) else \
        [tuple(slice(None) for _ in probe)]
    positions = sharding._local_positions()
    return [indices[i] for i in positions]


def _start(s: slice) -> int:
    return s.start or 0


def _assemble(shape: tuple, sharding, blocks: list, dtype, where: str, what: str) -> Array:
    """The global Array of `shape` from this process's blocks (in its devices' order)."""
    if dtype is None:
        if not blocks:
            raise ValueError(f"If the Array has no addressable shards, `dtype` must be provided "
                             f"via the `dtype` argument to `spmd.{where}`.")
        dtype = blocks[0].dtype
    else:
        dtype = np.dtype(dtype)
        if blocks and blocks[0].dtype != dtype:
            raise ValueError(f"If `dtype` is provided to `spmd.{where}`, it must match the dtype "
                             f"of the addressable shards. Got dtype={dtype} and shard dtype="
                             f"{blocks[0].dtype}`.")
    if not blocks:
        raise ValueError(f"spmd.{where}: none of the devices of {sharding} belongs to this "
                         f"process ({backend.process_index()}); build the sharding over a mesh "
                         "that includes this process's devices")
    aval = ShapedArray(shape, dtypes.canonicalize(dtype))
    expected = sharding.shard_shape(shape)
    devices = sharding._device_list()
    for block, i in zip(blocks, sharding._local_positions()):
        if block.shape != expected:
            raise ValueError(f"spmd.{where}: expected shard shape {expected} doesn't match "
                             f"{what} {devices[i]}, of shape {block.shape}. Shape of the Array "
                             f"is {aval.str_short()} with sharding {sharding}")
        if block.dtype != dtype:
            raise ValueError(f"spmd.{where}: {what} {devices[i]} has dtype {block.dtype}, "
                             f"expected {dtype} (the dtype of every block must be the same)")
    blocks = [np.ascontiguousarray(b, dtype=aval.dtype) for b in blocks]
    if isinstance(sharding, SingleDeviceSharding):
        return Array(backend.device_put(blocks[0], aval, sharding._device), aval)
    target = backend_sharding(sharding, len(shape))
    return Array(backend.device_put_partitioned(blocks, aval, target), aval)


def _block(value) -> np.ndarray:
    if isinstance(value, core.Tracer):
        raise ValueError("spmd.make_array_from_callback cannot be called within a traced "
                         "context (its callback returned a traced value)")
    return np.asarray(value)


def _sharding(sharding, where: str):
    if not isinstance(sharding, Sharding):
        raise TypeError(f"sharding should be an instance of `spmd.sharding` (a NamedSharding or "
                        f"a SingleDeviceSharding) in spmd.{where}. Got {sharding!r} of type "
                        f"{type(sharding).__name__}")
    return sharding


def _shape(shape, where: str) -> tuple:
    try:
        return tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"spmd.{where}: the shape must be a tuple of ints, got {shape!r}") from None
