"""Shardings: where the parts of an array live. `NamedSharding(mesh, spec)` splits each
dimension over the mesh axes its PartitionSpec names (and copies it over the others);
`SingleDeviceSharding(device)` keeps the whole array on one device. Here too the layout
arithmetic shared by placement, fetching and the partitioned programs of jit: which block of
the array each device holds, XLA's tile assignment, and Shardy's annotation text."""
from __future__ import annotations

import itertools
import math

import numpy as np

from spmd.transforms import backend, caches
from spmd.transforms.mesh import Mesh, get_mesh
from spmd.transforms.partition_spec import UNCONSTRAINED, PartitionSpec


class Sharding:
    """What every sharding answers (JAX's jax.sharding.Sharding)."""
    memory_kind = None

    @property
    def device_set(self) -> set:
        return set(self._device_list())

    @property
    def num_devices(self) -> int:
        return len(self._device_list())

    @property
    def addressable_devices(self) -> set:
        me = backend.process_index()
        return {d for d in self._device_list() if d.process_index == me}

    @property
    def is_fully_addressable(self) -> bool:
        return len(self.addressable_devices) == self.num_devices

    def _local_positions(self) -> list:
        """The positions in the device list of this process's devices (across processes, an
        array holds the blocks of these alone)."""
        me = backend.process_index()
        return [i for i, d in enumerate(self._device_list()) if d.process_index == me]

    def _process_indices(self) -> set:
        return {d.process_index for d in self._device_list()}

    def devices_indices_map(self, global_shape) -> dict:
        """{device: the index (a tuple of slices) of the block of the array it holds}."""
        return dict(zip(self._device_list(), self._indices(tuple(global_shape))))

    def addressable_devices_indices_map(self, global_shape) -> dict:
        mine = self.addressable_devices
        return {d: i for d, i in self.devices_indices_map(global_shape).items() if d in mine}

    def shard_shape(self, global_shape) -> tuple:
        index = self._indices(tuple(global_shape))[0]
        return tuple(len(range(*s.indices(n))) for s, n in zip(index, global_shape))

    def is_equivalent_to(self, other, ndim: int) -> bool:
        return (isinstance(other, Sharding) and self._device_list() == other._device_list()
                and self._layout(ndim) == other._layout(ndim))


class SingleDeviceSharding(Sharding):
    """The whole array on `device`."""
    __slots__ = ("_device",)

    def __init__(self, device, *, memory_kind=None):
        self._device = device

    def _device_list(self) -> list:
        return [self._device]

    def _indices(self, shape) -> list:
        return [tuple(slice(None) for _ in shape)]

    def _layout(self, ndim):
        return "whole"

    is_fully_replicated = True

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device == self._device

    def __hash__(self):
        return hash(("single", self._device))

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r})"


class NamedSharding(Sharding):
    """NamedSharding(mesh, spec): dimension i split over the mesh axes spec[i] names (in
    order, the first major), replicated over the mesh axes the spec leaves out."""
    __slots__ = ("mesh", "spec")

    def __init__(self, mesh, spec=None, *, memory_kind=None):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"NamedSharding's mesh must be an spmd.sharding.Mesh, got "
                            f"{type(mesh).__name__}")
        if spec is None:
            spec = PartitionSpec()
        if not isinstance(spec, PartitionSpec):
            entries = tuple(spec) if isinstance(spec, (tuple, list)) else (spec,)
            raise TypeError(f"NamedSharding's spec must be a PartitionSpec, got {spec!r}; "
                            f"write PartitionSpec{entries}")
        _check_axes(mesh, spec, "NamedSharding")
        self.mesh, self.spec = mesh, spec

    def _device_list(self) -> list:
        return self.mesh.flat_devices

    @property
    def is_fully_replicated(self) -> bool:
        return all(self.mesh.shape[n] == 1 for n in self.spec.used_axis_names())

    def with_spec(self, spec) -> "NamedSharding":
        return NamedSharding(self.mesh, spec if isinstance(spec, PartitionSpec)
                             else PartitionSpec(*spec))

    def _layout(self, ndim: int) -> tuple:
        return layout(self, ndim)

    def _indices(self, shape) -> list:
        return _indices(self, shape)

    def __eq__(self, other):
        if not isinstance(other, NamedSharding):
            return False
        # trailing unsplit dimensions do not change the layout: P('x') == P('x', None)
        n = max(len(self.spec), len(other.spec))
        return self.mesh == other.mesh and all(
            self.spec.axis_names_of(i) == other.spec.axis_names_of(i) for i in range(n))

    def __hash__(self):
        names = tuple(self.spec.axis_names_of(i) for i in range(len(self.spec)))
        while names and not names[-1]:
            names = names[:-1]
        return hash((self.mesh, names))

    def __repr__(self):
        return f"NamedSharding(mesh={self.mesh}, spec={self.spec})"


def _check_axes(mesh: Mesh, spec: PartitionSpec, where: str) -> None:
    seen = set()
    for name in spec.used_axis_names():
        if name not in mesh.shape:
            raise ValueError(f"{where}: {spec} names mesh axis {name!r}, which the mesh lacks "
                             f"(its axes are {mesh.axis_names}); use one of those names")
        if name in seen:
            raise ValueError(f"{where}: {spec} uses mesh axis {name!r} twice; a mesh axis can "
                             "split only one dimension")
        seen.add(name)


def check_fits(sharding, shape: tuple, what: str) -> None:
    """Raise if `sharding` cannot lay out an array of `shape` (`what` names the array)."""
    if not isinstance(sharding, NamedSharding):
        return
    spec, mesh = sharding.spec, sharding.mesh
    if len(spec) > len(shape):
        raise ValueError(f"{what} has rank {len(shape)} (shape {shape}) but its {spec} "
                         f"names {len(spec)} dimensions; give at most one entry per dimension")
    for d, n in enumerate(shape):
        names = spec.axis_names_of(d)
        parts = math.prod(mesh.shape[a] for a in names)
        if n % parts:
            axes = " x ".join(f"{a!r} (size {mesh.shape[a]})" for a in names)
            raise ValueError(f"{what} of shape {shape}: dimension {d} (size {n}) is not "
                             f"divisible by mesh axis {axes} that {spec} splits it over; "
                             "pad the array or choose a spec whose axes divide it")


def resolve(sharding, what: str):
    """A Sharding from what a user may write where one is expected: a Sharding, or a bare
    PartitionSpec under a current mesh (`with mesh:` / set_mesh)."""
    if sharding is None or isinstance(sharding, Sharding):
        return sharding
    if isinstance(sharding, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(f"{what}: a bare {sharding} needs a current mesh: use "
                             "NamedSharding(mesh, spec), or call under `with mesh:` or "
                             "`with spmd.set_mesh(mesh):`")
        _check_axes(mesh, sharding, what)
        return NamedSharding(mesh, sharding)
    raise TypeError(f"{what}: expected a Sharding (NamedSharding, SingleDeviceSharding) or a "
                    f"PartitionSpec, got {type(sharding).__name__}")


# ---------------------------------------------------------------- layout arithmetic
def _dims_axes(sharding: NamedSharding, ndim: int) -> list:
    return [sharding.spec.axis_names_of(d) for d in range(ndim)]


def layout(sharding: NamedSharding, ndim: int) -> tuple:
    """XLA's tile assignment: (blocks per dimension, the mesh position of the device holding
    each tile in row-major tile order (replicas last), copies of each tile)."""
    mesh = sharding.mesh
    names = list(mesh.axis_names)
    dims = _dims_axes(sharding, ndim)
    used = [a for axes in dims for a in axes]
    rest = [a for a in names if a not in used]
    positions = np.arange(mesh.size).reshape(mesh.axis_sizes)
    positions = positions.transpose([names.index(a) for a in used + rest])
    tile_dims = tuple(math.prod(mesh.shape[a] for a in axes) for axes in dims)
    replicas = math.prod(mesh.shape[a] for a in rest)
    return tile_dims, tuple(int(p) for p in positions.reshape(-1)), replicas


def _indices(sharding: NamedSharding, shape: tuple) -> list:
    mesh = sharding.mesh
    names = list(mesh.axis_names)
    dims = _dims_axes(sharding, len(shape))
    out = []
    for coords in np.ndindex(*mesh.axis_sizes):
        index = []
        for d, axes in enumerate(dims):
            block, parts = 0, 1
            for a in axes:
                size = mesh.shape[a]
                block, parts = block * size + coords[names.index(a)], parts * size
            chunk = shape[d] // parts
            index.append(slice(block * chunk, (block + 1) * chunk) if parts > 1 else slice(None))
        out.append(tuple(index))
    return out


def backend_sharding(sharding: NamedSharding, ndim: int):
    """The backend's sharding object for arrays of rank `ndim` laid out by `sharding`."""
    tile_dims, tile_devices, replicas = layout(sharding, ndim)
    canonical = NamedSharding(sharding.mesh, PartitionSpec(*(
        axes or None for axes in _dims_axes(sharding, ndim))))
    return backend.partitioned_sharding(sharding.mesh.flat_devices, tile_dims, tile_devices,
                                        replicas, canonical)


def sdy_mesh(mesh: Mesh) -> str:
    """Shardy's declaration of the mesh (partition i is device i of mesh.flat_devices)."""
    axes = ", ".join(f'"{n}"={s}' for n, s in mesh.shape.items())
    return f"sdy.mesh @mesh = <[{axes}]>"


def sdy_sharding(sharding: NamedSharding, ndim: int) -> str:
    """Shardy's attribute for an array of rank `ndim`: closed dimensions, except those the
    spec leaves UNCONSTRAINED (`{?}`, for XLA's propagation to decide)."""
    dims = []
    for d in range(ndim):
        entry = sharding.spec[d] if d < len(sharding.spec) else None
        if entry is UNCONSTRAINED:
            dims.append("{?}")
        else:
            dims.append("{" + ", ".join(f'"{a}"' for a in sharding.spec.axis_names_of(d)) + "}")
    return f"#sdy.sharding<@mesh, [{', '.join(dims)}]>"


_from_xla = caches.LRUCache("shardings of XLA's results")


def named_from_xla(mesh: Mesh, op_sharding, ndim: int) -> NamedSharding:
    """The NamedSharding on `mesh` whose layout is the one XLA's partitioner gave a result."""
    text = backend.hlo_sharding_text(op_sharding)
    key = (mesh, text, ndim)
    found = _from_xla.get(key)
    if found is None:
        found = _from_xla[key] = _search_named(mesh, op_sharding, ndim, text)
    return found


def _search_named(mesh: Mesh, op_sharding, ndim: int, text: str) -> NamedSharding:
    names = mesh.axis_names
    # each mesh axis splits one dimension or none, in any order within a dimension
    for choice in itertools.product(range(-1, ndim), repeat=len(names)):
        groups = [[a for a, c in zip(names, choice) if c == d] for d in range(ndim)]
        for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
            candidate = NamedSharding(mesh, PartitionSpec(*(o or None for o in orders)))
            if backend.same_layout(op_sharding, backend_sharding(candidate, ndim)):
                return candidate
    raise NotImplementedError(f"XLA laid a result out as {text}, which no PartitionSpec over "
                              f"{mesh} describes; give the result's sharding with "
                              "out_shardings")
