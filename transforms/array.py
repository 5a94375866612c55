"""`Array`: a value that lives on devices. One buffer on one device, or one buffer spread over
several devices: from pmap, stacked along dimension 0 (device i holds row i, as a (1, ...)
shard) or replicated (every device holds the whole); from a mesh, laid out by a NamedSharding
(each device holds one block). Operators come from spmd.numpy."""
from __future__ import annotations

import sys

import numpy as np

from spmd.transforms import backend, core
from spmd.transforms.core import ShapedArray
from spmd.transforms.mesh import Mesh
from spmd.transforms.named_sharding import NamedSharding, SingleDeviceSharding
from spmd.transforms.partition_spec import PartitionSpec


_DELETED = object()  # Array._npy of a used-up Array


class Array:
    __array_priority__ = 1000
    __slots__ = ("_buf", "aval", "_npy", "__weakref__")

    def __init__(self, buf, aval: ShapedArray):
        self._buf = buf
        self.aval = aval
        self._npy = None

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)
    itemsize = property(lambda self: self.aval.dtype.itemsize)
    nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)

    @property
    def device(self):
        """The device of a single-device array; the sharding of one spread over several (as
        JAX's `Array.device`)."""
        return self.sharding if self.is_multi_device else self._buf._sharding._device

    @property
    def sharding_devices(self) -> list:
        """The devices holding this array, in shard order."""
        return list(self._buf._sharding._devices) if self.is_multi_device else [
            self._buf._sharding._device]

    @property
    def is_sharded(self) -> bool:
        """Stacked over several devices (a pmap result with out_axes=0)."""
        return isinstance(self._buf._sharding, backend.StackedSharding)

    @property
    def is_replicated(self) -> bool:
        """A full copy on each of several devices (a pmap result with out_axes=None)."""
        return isinstance(self._buf._sharding, backend.ReplicatedSharding)

    @property
    def is_partitioned(self) -> bool:
        """Laid out over a mesh by a NamedSharding (jit over a mesh, placement)."""
        return isinstance(self._buf._sharding, backend.PartitionedSharding)

    @property
    def is_multi_device(self) -> bool:
        return self.is_sharded or self.is_replicated or self.is_partitioned

    @property
    def sharding(self):
        """Where the array lives: a NamedSharding, or a SingleDeviceSharding. A pmap result
        reads as a NamedSharding over its devices (one mesh axis '_pmap_devices'), split
        along dimension 0 (stacked) or not (replicated)."""
        raw = self._buf._sharding
        if isinstance(raw, backend.PartitionedSharding):
            return raw.named
        if self.is_multi_device:
            mesh = Mesh(np.array(self.sharding_devices, dtype=object), ("_pmap_devices",))
            return NamedSharding(mesh, PartitionSpec("_pmap_devices") if self.is_sharded
                                 else PartitionSpec())
        return SingleDeviceSharding(raw._device)

    @property
    def is_fully_addressable(self) -> bool:
        return self.sharding.is_fully_addressable

    @property
    def is_fully_replicated(self) -> bool:
        """Every device of the sharding holds the whole array."""
        return self.sharding.is_fully_replicated

    @property
    def addressable_shards(self) -> list:
        """One Shard per device of this process: its device, the index of its block in the
        array, and the block as an Array on that device."""
        sharding = self.sharding
        indices = sharding.devices_indices_map(self.shape)
        mine = sharding.addressable_devices
        return [Shard(self, i, d, index) for i, (d, index) in enumerate(indices.items())
                if d in mine]

    def addressable_data(self, index: int) -> "Array":
        return self.addressable_shards[index].data

    def _block(self, i: int) -> "Array":
        """The block device i of the sharding holds, as an Array on that device."""
        if not self.is_multi_device:
            return self
        self._check_alive()
        if self.is_partitioned:  # read from that device alone (across processes: all there is)
            block = backend.shard_to_numpy(self._buf, i, self.dtype)
            return make_array(np.array(block), self.weak_type, device=self.sharding_devices[i])
        sharding = self.sharding
        index = sharding.devices_indices_map(self.shape)[sharding._device_list()[i]]
        block = np.array(self._value()[index])
        return make_array(block, self.weak_type, device=self.sharding_devices[i])

    def shard(self, i: int) -> "Array":
        """Row i of a stacked array, the part device i holds, read from that device alone (no
        indexing program): `x[i]` of a pmap result."""
        n = self.shape[0]
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for axis 0 with size {n}")
        self._check_alive()
        if self._npy is not None:
            return make_array(self._npy[i], self.weak_type)
        part = backend.shard_to_numpy(self._buf, i % n, self.dtype)
        return make_array(part.reshape(self.shape[1:]), self.weak_type)

    def devices(self) -> set:
        return set(self.sharding_devices)

    def block_until_ready(self) -> "Array":
        backend.block_until_ready(self._buf)
        return self

    def copy_to_host_async(self) -> None:
        """Start bringing the value to the host, so that a later read need not wait (JAX's
        method; on CPU devices a read is zero-copy anyway)."""
        self._check_alive()
        backend.copy_to_host_async(self._buf)

    def is_deleted(self) -> bool:
        return self._npy is _DELETED or backend.is_deleted(self._buf)

    def delete(self) -> None:
        """Use the Array up (as donation does): later uses raise. Its device memory is freed
        now unless a NumPy view of it is still alive (jaxlib aborts the process on deleting a
        buffer that has one): then the Array lets go of it for a deleted stand-in, and the
        memory goes with the view."""
        if self.is_deleted():
            return
        view, self._npy = self._npy, _DELETED
        shared = view is not None and sys.getrefcount(view) > 2
        del view
        if shared:
            self._buf = backend.device_put(np.zeros(self.shape, self.dtype), self.aval,
                                           backend.single_device_of(self._buf))
        backend.delete(self._buf)

    def _check_alive(self):
        if self.is_deleted():
            raise RuntimeError(f"Array has been deleted with shape={self.aval.str_short()}: it "
                               "was donated to a jit/pmap call (donate_argnums) or deleted with "
                               ".delete(), and can no longer be used; use the call's result "
                               "instead")

    def _value(self) -> np.ndarray:
        if self._npy is None or self.is_deleted():
            self._check_alive()
            if self.is_partitioned and self.is_fully_replicated:
                # any device's block is the whole (across processes, one of this process's)
                first = self.sharding._local_positions()[0]
                value = backend.shard_to_numpy(self._buf, first, self.dtype)
            elif self.is_partitioned:
                if not self.is_fully_addressable:
                    raise RuntimeError(self._spans_processes("fetching its value"))
                value = self._assemble()
            elif self.is_sharded:
                parts = backend.shards_to_numpy(self._buf, self.dtype)
                value = np.concatenate([p.reshape((-1,) + self.shape[1:]) for p in parts])
            elif self.is_replicated:
                value = backend.shard_to_numpy(self._buf, 0, self.dtype)
            else:
                value = backend.to_numpy(self._buf, self.dtype)
            value = value.reshape(self.shape)
            value.flags.writeable = False
            self._npy = value
        return self._npy

    def _spans_processes(self, doing: str) -> str:
        """Why `doing` fails for an Array that spans processes, and what to do instead."""
        sharding = self.sharding
        return (f"{doing} of the Array {self.aval.str_short()} laid out by {sharding} is not "
                f"possible in process {backend.process_index()}: it spans the devices of "
                f"processes {sorted(sharding._process_indices())}, and each holds only its "
                "own blocks. Use spmd.experimental.multihost_utils.process_allgather(x, "
                "tiled=True) for the whole array, or x.addressable_shards for this process's "
                "blocks")

    def _assemble(self) -> np.ndarray:
        """The whole array from the blocks of a mesh layout (each read once)."""
        parts = backend.shards_to_numpy(self._buf, self.dtype)
        value = np.empty(self.shape, self.dtype)
        done = set()
        for part, index in zip(parts, self._buf._sharding.named._indices(self.shape)):
            key = tuple((s.start, s.stop) for s in index)
            if key not in done:
                done.add(key)
                value[index] = part.reshape(value[index].shape)
        return value

    def __array__(self, dtype=None, copy=None):
        value = self._value()
        if copy:
            return np.array(value, dtype=dtype)
        return value if dtype is None else value.astype(dtype)

    def item(self):
        return self._value().item()

    def tolist(self):
        return self._value().tolist()

    def __bool__(self):
        return bool(self._value())

    def __int__(self):
        return int(self._value())

    def __float__(self):
        return float(self._value())

    def __complex__(self):
        return complex(self._value())

    def __index__(self):
        if not np.issubdtype(self.dtype, np.integer):
            raise TypeError(f"only integer arrays can be used as an index, not {self.dtype}")
        return int(self._value())

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        raise TypeError("spmd.Array is not hashable (it is mutable-free but compares elementwise); "
                        "convert it with .item() or tuple(np.asarray(x)) to use it as a key")

    def __repr__(self):
        if self.is_deleted():
            return f"Array(<deleted>, shape={self.shape}, dtype={self.dtype})"
        if not (self.is_fully_addressable or self.is_fully_replicated):  # as JAX prints it
            return f"Array(shape={self.shape}, dtype={self.dtype})"
        body = np.array2string(self._value(), separator=", ", prefix="Array(")
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}, dtype={self.dtype}{weak})"

    def __str__(self):
        return str(self._value())

    def __format__(self, format_spec):
        # a 0-d array formats as its scalar (f"{loss:.3f}"); NumPy's arrays take no spec
        value = self._value()
        return format(value[()] if value.ndim == 0 else value, format_spec)

    def __reduce__(self):  # pickling (checkpoints, Ray) goes through NumPy
        return (_rebuild, (np.asarray(self), self.weak_type))

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The buffer as a DLPack capsule (zero-copy; every dtype, bfloat16 and bool too); a
        value spread over several devices, or `copy=True`, through a host copy."""
        self._check_alive()
        if self.is_multi_device or copy:
            return np.array(self._value()).__dlpack__()
        return backend.to_dlpack(self._buf)

    def __dlpack_device__(self):
        return (1, 0)


class Shard:
    """One device's block of an Array (JAX's jax.Shard)."""
    __slots__ = ("_array", "_position", "device", "index")

    def __init__(self, array: Array, position: int, device, index: tuple):
        self._array, self._position, self.device, self.index = array, position, device, index

    @property
    def replica_id(self) -> int:
        """Which copy of its block this is (0 for the first device holding that block)."""
        indices = self._array.sharding._indices(self._array.shape)
        return indices[:self._position].count(self.index)

    @property
    def data(self) -> Array:
        return self._array._block(self._position)

    def __repr__(self):
        return f"Shard(device={self.device!r}, index={self.index}, replica_id={self.replica_id})"


def _rebuild(value, weak_type):
    return make_array(value, weak_type=weak_type)


def make_array(value, weak_type: bool = False, device=None) -> Array:
    """A host value placed on a device as an Array (64-bit narrowed without x64)."""
    aval = core.get_aval(value)
    host = np.asarray(value, dtype=aval.dtype)
    aval = aval.update(weak_type=weak_type or aval.weak_type)
    return Array(backend.device_put(host, aval, device), aval)


core.pytype_aval_mappings[Array] = lambda x: x.aval
