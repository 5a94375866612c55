"""`Mesh`: devices laid out as an N-d array whose axes have names, which PartitionSpecs refer
to; `make_mesh` builds one from the backend's devices. A mesh can be made current (`with mesh:`,
`set_mesh`) so that bare PartitionSpecs name its axes."""
from __future__ import annotations

import contextlib
import enum
import math
import threading
from typing import Sequence

import numpy as np

from spmd.transforms import backend


class AxisType(enum.Enum):
    """How a mesh axis is partitioned. spmd lets XLA's partitioner propagate shardings over
    every axis (JAX's Auto); Explicit and Manual axes are accepted and partitioned the same
    way (the values computed are the same; JAX's sharding-in-types rules are not applied)."""
    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()

    def __repr__(self):
        return self.name


def _axis_types(axis_names, axis_types, where: str) -> tuple:
    if axis_types is None:
        return (AxisType.Auto,) * len(axis_names)
    if not isinstance(axis_types, tuple):
        axis_types = (axis_types,)
    if not all(isinstance(t, AxisType) for t in axis_types):
        raise TypeError(f"axis_types passed to {where} must be spmd.sharding.AxisType values, "
                        f"got {axis_types}")
    if len(axis_types) != len(axis_names):
        raise ValueError(f"{where} got {len(axis_names)} axis names {axis_names} but "
                         f"{len(axis_types)} axis_types {axis_types}: give one type per axis")
    return axis_types


class Mesh(contextlib.ContextDecorator):
    """Mesh(devices, axis_names, axis_types=None): `devices` an ndarray of devices (or a
    sequence, for a 1-d mesh) with one named axis per dimension."""
    __slots__ = ("devices", "axis_names", "axis_types", "size", "_key")

    def __init__(self, devices, axis_names, axis_types=None):
        devices = np.array(devices, dtype=object) if not isinstance(devices, np.ndarray) \
            else devices
        if isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        if any(not isinstance(n, str) for n in axis_names):
            raise TypeError(f"Mesh axis names must be strings, got {axis_names}")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"Mesh axis names must be distinct, got {axis_names}")
        if devices.ndim != len(axis_names):
            raise ValueError(f"Mesh needs one axis name per dimension of its devices array: "
                             f"the devices have {devices.ndim} dimensions {devices.shape}, the "
                             f"names are {axis_names}")
        flat = tuple(devices.flat)
        if len({d.id for d in flat}) != len(flat):
            raise ValueError("Mesh devices must be distinct; the same device appears twice in "
                             f"{[d.id for d in flat]}")
        devices = devices.copy()
        devices.flags.writeable = False
        self.devices = devices
        self.axis_names = axis_names
        self.axis_types = _axis_types(axis_names, axis_types, "Mesh")
        self.size = len(flat)
        self._key = (tuple(d.id for d in flat), devices.shape, axis_names, self.axis_types)

    def __eq__(self, other):
        return isinstance(other, Mesh) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    @property
    def shape(self) -> dict:
        """{axis name: size}, in axis order."""
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def shape_tuple(self) -> tuple:
        return tuple(zip(self.axis_names, self.devices.shape))

    @property
    def axis_sizes(self) -> tuple:
        return tuple(self.devices.shape)

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    @property
    def flat_devices(self) -> list:
        """The devices in row-major order: partition i of a program over this mesh runs on
        device i of this list."""
        return list(self.devices.flat)

    @property
    def local_devices(self) -> list:
        me = backend.process_index()
        return [d for d in self.devices.flat if d.process_index == me]

    @property
    def is_multi_process(self) -> bool:
        return len({d.process_index for d in self.devices.flat}) > 1

    @property
    def local_mesh(self) -> "Mesh":
        """The sub-mesh of this process's devices (same axis names): they must fill a block of
        the device grid, as make_mesh lays processes out."""
        if not self.is_multi_process:
            return self
        me = backend.process_index()
        mine = np.argwhere(np.vectorize(lambda d: d.process_index == me, otypes=[bool])(
            self.devices))
        if not len(mine):
            raise ValueError(f"{self} holds no device of this process ({me}), so it has no "
                             "local mesh")
        box = tuple(slice(lo, hi + 1) for lo, hi in zip(mine.min(axis=0), mine.max(axis=0)))
        block = self.devices[box]
        if block.size != len(mine):
            raise ValueError(f"the devices of process {me} do not fill a block of {self} "
                             f"(device ids {self.device_ids.tolist()}), so it has no local mesh; "
                             "lay each process's devices out as a block (make_mesh does)")
        return Mesh(block, self.axis_names, self.axis_types)

    def axis_size(self, name: str) -> int:
        return self.shape[name]

    def __enter__(self):
        _context.stack.append(self)
        return self

    def __exit__(self, *exc):
        _context.stack.pop()
        return False

    def __repr__(self):
        types = "" if all(t is AxisType.Auto for t in self.axis_types) else \
            f", axis_types={self.axis_types}"
        return (f"Mesh(device_ids={self.device_ids.tolist()}, "
                f"axis_names={self.axis_names}{types})")

    def __str__(self):
        return f"Mesh({', '.join(f'{n!r}: {s}' for n, s in self.shape.items())})"


class _Context(threading.local):
    def __init__(self):
        self.stack: list = []


_context = _Context()
_global_mesh: list = [None]  # set_mesh(m) called as a function


def get_mesh():
    """The current mesh (innermost `with mesh:` / `with set_mesh(mesh):`, else the one
    set_mesh set for the process), or None."""
    return _context.stack[-1] if _context.stack else _global_mesh[0]


class set_mesh:
    """Make `mesh` current: as a call, for the whole process (until the next set_mesh); as
    `with set_mesh(mesh):`, for the block (then the previous one is restored)."""
    __slots__ = ("mesh", "previous")

    def __init__(self, mesh):
        if mesh is not None and not isinstance(mesh, Mesh):
            raise ValueError(f"set_mesh expects an spmd.sharding.Mesh (or None), got "
                             f"{type(mesh).__name__}")
        self.mesh = mesh
        self.previous = _global_mesh[0]
        _global_mesh[0] = mesh

    def __enter__(self):
        _context.stack.append(self.mesh)
        return self.mesh

    def __exit__(self, *exc):
        _context.stack.pop()
        _global_mesh[0] = self.previous
        return False


def use_mesh(mesh):
    """`with use_mesh(mesh):` (JAX's older spelling of `with set_mesh(mesh):`)."""
    return set_mesh(mesh)


def make_mesh(axis_shapes: Sequence[int], axis_names: Sequence[str], axis_types=None, *,
              devices=None) -> Mesh:
    """A mesh of the first prod(axis_shapes) devices (default: all of the job's), row-major."""
    try:
        shape = tuple(int(s) for s in axis_shapes)
    except TypeError:
        raise ValueError(f"make_mesh's axis_shapes must be a sequence of ints, got "
                         f"{axis_shapes!r}") from None
    devices = list(backend.devices() if devices is None else devices)
    needed = math.prod(shape)
    if needed > len(devices):
        raise ValueError(f"make_mesh: a mesh of shape {shape} needs {needed} devices but "
                         f"{len(devices)} are available (set SPMD_CPU_DEVICES for more CPU "
                         "devices)")
    if isinstance(axis_names, str):
        axis_names = (axis_names,)
    if axis_types is None:
        axis_types = (AxisType.Explicit,) * len(shape)  # JAX 0.10.2's default for make_mesh
    grid = np.empty(needed, dtype=object)
    grid[:] = devices[:needed]
    return Mesh(grid.reshape(shape), tuple(axis_names), axis_types)
