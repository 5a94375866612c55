"""The XLA backend: the one module that touches jaxlib's private binding.

Clients and devices, host-to-device transfer, compilation (with an in-memory cache and an
optional on-disk cache of serialized executables), execution, device-to-host through DLPack,
and the distributed runtime. jaxlib's private API changes between releases, so the version is
pinned and checked here. The `jax` package is never imported: the C++ side calls back into a
few Python methods that jax normally monkeypatches, which the sharding classes below supply.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import hashlib
import functools
import os
import threading
from typing import Sequence

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide XLA's INFO lines; must precede jaxlib

REQUIRED_JAXLIB = "0.10.2"
try:
    import jaxlib
except ImportError as e:  # pragma: no cover - install problem
    raise ImportError(f"spmd needs jaxlib=={REQUIRED_JAXLIB}: "
                      f"pip install jaxlib=={REQUIRED_JAXLIB}") from e
if jaxlib.__version__ != REQUIRED_JAXLIB:  # pragma: no cover - install problem
    raise ImportError(f"spmd drives jaxlib's private API, pinned to jaxlib=={REQUIRED_JAXLIB}, "
                      f"but jaxlib {jaxlib.__version__} is installed: "
                      f"pip install jaxlib=={REQUIRED_JAXLIB}")

from jaxlib import _jax  # noqa: E402
from jaxlib import xla_client as xc  # noqa: E402

from spmd.transforms import caches, compile_log, dtypes, host_memory  # noqa: E402
from spmd.transforms.config import config  # noqa: E402

JaxRuntimeError = _jax.JaxRuntimeError
Device = _jax.Device  # the type of every device (jax.Device)
_x64_state = _jax.config.Config("jax_enable_x64", bool(config.enable_x64))
_jax.jax_jit.set_enable_x64_state(_x64_state)
config.on_change("enable_x64", lambda v: _x64_state.set_global(bool(v)))


# ---------------------------------------------------------------- transfer guards
# jaxlib checks host-to-device transfers (batched_device_put) and device-to-device copies
# (copy_to_device) itself against its guard state, as JAX's config sets it. Reads to the host
# are never refused: JAX allows every fetch from a CPU device, and spmd's devices are XLA's
# CPU devices (reads are DLPack views of host memory).
_GUARD_LEVELS = {name: getattr(_jax.guard_lib.TransferGuardLevel, name.upper())
                 for name in ("allow", "log", "disallow", "log_explicit", "disallow_explicit")}
_GUARDED = ("host_to_device", "device_to_device", "device_to_host")


def _set_transfer_guard(kind: str, level: str) -> None:
    setattr(_jax.guard_lib.global_state(), kind, _GUARD_LEVELS[level])


for _kind in _GUARDED:
    _set_transfer_guard(_kind, config.values[f"transfer_guard_{_kind}"])
    config.on_change(f"transfer_guard_{_kind}", functools.partial(_set_transfer_guard, _kind))


@contextlib.contextmanager
def explicit_transfers():
    """The transfers inside are explicit (device_put, device_get): the guard levels 'allow',
    'log' and 'disallow' let them through, as JAX's do."""
    state = _jax.guard_lib.thread_local_state()
    before = state.explicit_device_put, state.explicit_device_get
    state.explicit_device_put = state.explicit_device_get = True
    try:
        yield
    finally:
        state.explicit_device_put, state.explicit_device_get = before


def explicit_device_get() -> bool:
    """Whether this thread is inside explicit_transfers()."""
    return bool(_jax.guard_lib.thread_local_state().explicit_device_get)



# ---------------------------------------------------------------- approximate top-k
def approx_top_k_reduction_output_size(input_size: int, rank: int, k: int, recall_target: float,
                                       aggregate_to_topk: bool, input_size_override: int) -> int:
    """How many candidates XLA's ApproxTopK keeps along the reduction dimension (the output
    size of lax.approx_max_k with aggregate_to_topk=False): XLA's own arithmetic."""
    try:
        return int(_jax.approx_top_k_reduction_output_size(
            input_size, rank, k, recall_target, aggregate_to_topk, input_size_override)[0])
    except _jax.JaxRuntimeError as e:  # XLA's INVALID_ARGUMENT: say it in the caller's terms
        raise ValueError(f"approx_max_k/approx_min_k: {str(e).split(': ', 1)[-1]}") from None


# ---------------------------------------------------------------- pytrees
# jaxlib's C++ pytrees (PyTreeDef, the key types, treedef_tuple, all_leaves), which
# transforms/tree_util.py builds spmd's pytree API on.
pytree = _jax.pytree


def pytree_registry():
    """A new C++ pytree registry with None, tuples, namedtuples, lists and dicts built in. spmd
    keeps its own: jaxlib's default registry is jax's, and jax may share the process (the
    benchmarks), where registering the same type in both would be refused as a duplicate."""
    return _jax.pytree.PyTreeRegistry()


# ---------------------------------------------------------------- shardings
_REPLICATED = xc.HloSharding.replicate()


class SingleDeviceSharding(_jax.SingleDeviceSharding):
    """jaxlib's C++ sharding plus the Python methods its C++ side calls back into."""

    def __repr__(self):  # as JAX's; jaxlib's transfer guard messages show it
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})"

    @property
    def memory_kind(self):
        return self._memory_kind

    def _to_xla_hlo_sharding(self, ndim):
        return _REPLICATED


class StackedSharding(_jax.GSPMDSharding):
    """Dimension 0 split over devices: a global (N*a, ...) array, shard (a, ...) on device i."""

    @property
    def memory_kind(self):
        return self._memory_kind

    def _to_xla_hlo_sharding(self, ndim):
        return self._hlo_sharding


class ReplicatedSharding(_jax.GSPMDSharding):
    """The whole array on each of several devices (a pmap's broadcast input or out_axes=None
    output): every device holds a full copy."""

    @property
    def memory_kind(self):
        return self._memory_kind

    def _to_xla_hlo_sharding(self, ndim):
        return self._hlo_sharding


class PartitionedSharding(_jax.GSPMDSharding):
    """An array split over the devices of a mesh, as XLA's partitioner lays it out: each
    dimension cut into `tile_dims[d]` blocks, device `tile_devices[k]` (an index into the
    device list) holding tile k in row-major tile order, each tile on `replicas` devices.
    `named` is the user-level sharding it realises (the caller sets it)."""

    @property
    def memory_kind(self):
        return self._memory_kind

    def _to_xla_hlo_sharding(self, ndim):
        return self._hlo_sharding


def partitioned_sharding(devices: Sequence, tile_dims: tuple, tile_devices: tuple,
                         replicas: int, named) -> PartitionedSharding:
    """The interned PartitionedSharding for `named` (one per user-level sharding and rank)."""
    key = ("partitioned", named, len(tile_dims))
    s = _multi_shardings.get(key)
    if s is None:
        op = xc.OpSharding()
        if all(t == 1 for t in tile_dims):
            op.type = xc.OpSharding.Type.REPLICATED
        else:
            op.type = xc.OpSharding.Type.OTHER
            op.tile_assignment_dimensions = list(tile_dims) + ([replicas] if replicas > 1 else [])
            op.tile_assignment_devices = list(tile_devices)
            op.replicate_on_last_tile_dim = replicas > 1
        s = _multi_shardings[key] = PartitionedSharding(_jax.DeviceList(tuple(devices)), op)
        s.named = named
        s.layout = (tuple(d.id for d in devices), tuple(tile_dims), tuple(tile_devices), replicas)
    return s


def same_layout(op_sharding, sharding: PartitionedSharding) -> bool:
    """Whether XLA's OpSharding (a compiled program's parameter or result) lays an array out
    as `sharding` does."""
    return xc.HloSharding.from_proto(op_sharding) == sharding._hlo_sharding


def hlo_sharding_text(op_sharding) -> str:
    return str(xc.HloSharding.from_proto(op_sharding))


# Interned, not cached (never evicted nor cleared): `a._sharding is b._sharding` tells equal
# layouts, and pmap passes an Array on as it is only when its sharding is the one it expects.
# One entry per device set and rank (single: per device), so they stay small.
_multi_shardings: dict = {}


def stacked_sharding(devices: Sequence, ndim: int) -> StackedSharding:
    key = ("stacked", tuple(d.id for d in devices), max(ndim, 1))
    s = _multi_shardings.get(key)
    if s is None:
        op = xc.OpSharding()
        op.type = xc.OpSharding.Type.OTHER
        op.tile_assignment_dimensions = [len(devices)] + [1] * (max(ndim, 1) - 1)
        op.tile_assignment_devices = list(range(len(devices)))
        s = _multi_shardings[key] = StackedSharding(_jax.DeviceList(tuple(devices)), op)
    return s


def replicated_sharding(devices: Sequence) -> ReplicatedSharding:
    key = ("replicated", tuple(d.id for d in devices))
    s = _multi_shardings.get(key)
    if s is None:
        op = xc.OpSharding()
        op.type = xc.OpSharding.Type.REPLICATED
        s = _multi_shardings[key] = ReplicatedSharding(_jax.DeviceList(tuple(devices)), op)
    return s


_single_shardings: dict = {}


def single_sharding(device) -> SingleDeviceSharding:
    s = _single_shardings.get(device)
    if s is None:
        s = _single_shardings[device] = SingleDeviceSharding(device)
    return s


# ---------------------------------------------------------------- the client
class _ClientState:
    def __init__(self):
        self.client = None
        self.distributed = None  # (distributed_client, process_id, num_processes)
        self.default_device = None
        self.lock = threading.Lock()


_state = _ClientState()


def set_distributed(distributed_client, process_id: int, num_processes: int,
                    host_address: str | None = "127.0.0.1", interface: str | None = None):
    """Make the next client a member of a multi-process job (cluster/ calls this).
    The other processes reach this one for gloo's collectives at `host_address`, or, when
    that is None, at the address of the network interface `interface` (gloo looks it up;
    given both, gloo would use the interface alone, so cluster/ passes one)."""
    if _state.client is not None:
        raise RuntimeError("spmd.distributed.initialize() must be called before any spmd "
                           "computation: the backend is already in use in this process")
    _state.distributed = (distributed_client, process_id, num_processes, host_address, interface)


def backend_started() -> bool:
    return _state.client is not None


def client():
    c = _state.client
    if c is None:
        with _state.lock:
            if _state.client is None:
                _state.client = _make_client()
            c = _state.client
    return c


_alone_hooks: list = []


def on_start_alone(hook) -> None:
    """Call `hook()` when the backend starts outside any multi-process job (cluster/ uses it
    to warn a process that a launcher started as one of several but that never joined)."""
    _alone_hooks.append(hook)


def _make_client():
    count = int(config.cpu_devices)
    if count < 1:
        raise ValueError(f"SPMD_CPU_DEVICES must be at least 1, got {count}")
    host_memory.keep_freed_buffers()
    if _state.distributed is None:
        for hook in _alone_hooks:
            hook()
        return xc.make_cpu_client(asynchronous=True, num_devices=count)
    dist, process_id, num_processes, host_address, interface = _state.distributed
    collectives = _jax.make_gloo_tcp_collectives(distributed_client=dist, hostname=host_address,
                                                 interface=interface)
    return xc.make_cpu_client(asynchronous=True, distributed_client=dist, node_id=process_id,
                              num_nodes=num_processes, collectives=collectives, num_devices=count)


def devices() -> list:
    return list(client().devices())


def local_devices() -> list:
    return list(client().local_devices())


def default_device():
    device = _state.default_device  # read by every eager op: not a fresh list each time
    if device is None:
        device = _state.default_device = _configured_default_device()
    return device


def _configured_default_device():
    """config.default_device: None or 'cpu' (the first local device), or a local Device."""
    chosen = config.default_device
    if chosen is None or isinstance(chosen, str):
        return client().local_devices()[0]
    return chosen


def _check_default_device(value) -> None:
    local = client().local_devices()
    if not (value is None or value == "cpu" or any(value is d or value == d for d in local)):
        raise ValueError("jax_default_device must be passed either a Device object (e.g. "
                         f"`jax.devices('cpu')[0]`) of this process or the platform name 'cpu' "
                         f"(spmd has no other platform), got: {value!r}")
    _state.default_device = None  # resolved again at the next use


config.on_change("default_device", _check_default_device)


def process_index() -> int:
    return client().process_index()


def distributed_service(address: str, num_processes: int, heartbeat_timeout: int = 10):
    return _jax.get_distributed_runtime_service(address, num_processes,
                                                heartbeat_timeout=heartbeat_timeout,
                                                shutdown_timeout=60)


def distributed_client(address: str, process_id: int, init_timeout: int,
                       heartbeat_timeout: int = 10, missed_heartbeat_callback=None):
    kwargs = dict(init_timeout=init_timeout, heartbeat_timeout=heartbeat_timeout,
                  use_compression=True, shutdown_on_destruction=False)
    if missed_heartbeat_callback is not None:
        kwargs["missed_heartbeat_callback"] = missed_heartbeat_callback
    return _jax.get_distributed_runtime_client(address, process_id, **kwargs)


# ---------------------------------------------------------------- transfers
def device_put(x: np.ndarray, aval, device=None):
    """One host array onto one device. `aval` (shape, dtype, weak_type) types the buffer."""
    device = device or default_device()
    return _jax.batched_device_put(aval, single_sharding(device), [x], [device], committed=True,
                                   enable_x64=bool(config.enable_x64))


def copy_to_device(buf, device):
    """A single-device buffer copied onto another device (a device-to-device transfer)."""
    out, = _jax.batched_copy_array_to_devices_with_sharding(
        [buf], [_jax.DeviceList((device,))], [single_sharding(device)],
        [_jax.ArrayCopySemantics.ALWAYS_COPY])
    return out


def device_put_sharded(shards: Sequence[np.ndarray], global_aval, devices: Sequence):
    """One host array per device, stacked along dim 0 into one global array."""
    return _jax.batched_device_put(global_aval, stacked_sharding(devices, global_aval.ndim),
                                   list(shards), list(devices), committed=True,
                                   enable_x64=bool(config.enable_x64))


def device_put_replicated(x: np.ndarray, aval, devices: Sequence):
    """One host array copied onto each of `devices` (a pmap's broadcast argument)."""
    return _jax.batched_device_put(aval, replicated_sharding(devices), [x] * len(devices),
                                   list(devices), committed=True,
                                   enable_x64=bool(config.enable_x64))


def device_put_partitioned(shards: Sequence[np.ndarray], global_aval,
                           sharding: PartitionedSharding):
    """One host block per device of `sharding` that this process holds (in its device order):
    one global array, which across processes holds only this process's blocks."""
    me = process_index()
    devices = [d for d in sharding._devices if d.process_index == me]
    return _jax.batched_device_put(global_aval, sharding, list(shards), devices,
                                   committed=True, enable_x64=bool(config.enable_x64))


# Fetching never goes through jaxlib's per-device views of a multi-device array (`_arrays`,
# `_fully_replicated_shard`, `_single_device_array_to_np_array_did_copy`): each one it makes
# tries `import jax.core` (for jax's ShapedArray), which costs 0.3 ms per device where jax is
# absent, imports all of jax where it is present, and swallows a Ctrl-C that lands during the
# attempt. DLPack of an array views its first shard, and reordering the shards (no copy) puts
# any device first.
class _DLPackCapsule:
    __slots__ = ("capsule",)

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU


_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))
_DL_DTYPE_OFFSET = 20  # DLManagedTensor.dl_tensor.dtype: after data (8), device (8), ndim (4)
_DL_BFLOAT, _DL_UINT = 4, 1


def _as_uint16(capsule):
    """Relabel a bfloat16 DLPack tensor as uint16 in place: NumPy's DLPack import knows no
    bfloat16, and the bits are the same."""
    code = ctypes.c_uint8.from_address(_capsule_pointer(capsule, b"dltensor") + _DL_DTYPE_OFFSET)
    bits = ctypes.c_uint8.from_address(ctypes.addressof(code) + 1)
    if (code.value, bits.value) != (_DL_BFLOAT, 16):  # pragma: no cover - jaxlib changed
        raise RuntimeError(f"jaxlib {REQUIRED_JAXLIB} gave an unexpected DLPack dtype "
                           f"(code {code.value}, {bits.value} bits) for a bfloat16 buffer")
    code.value = _DL_UINT
    return capsule


def to_dlpack(buf):
    """A single-device buffer as a DLPack capsule (zero-copy), once it is computed."""
    buf.block_until_ready()
    return _jax.buffer_to_dlpack_managed_tensor(buf)


def _first_shard_view(buf, dtype) -> np.ndarray:
    capsule = _jax.buffer_to_dlpack_managed_tensor(buf)
    if dtype == dtypes.bfloat16:
        return np.from_dlpack(_DLPackCapsule(_as_uint16(capsule))).view(dtypes.bfloat16)
    return np.from_dlpack(_DLPackCapsule(capsule))


_device_first_shardings: dict = {}  # sharding -> the same with each of its devices first


def _device_first(buf, index: int):
    """The same buffers with the sharding's device `index` first (no copy)."""
    sharding = buf._sharding
    targets = _device_first_shardings.get(sharding)
    if targets is None:
        devices = list(sharding._devices)
        orders = [devices[i:] + devices[:i] for i in range(len(devices))]
        if isinstance(sharding, PartitionedSharding):
            targets = [_rotated(sharding, i) for i in range(len(devices))]
        else:
            targets = [stacked_sharding(order, buf.aval.ndim)
                       if isinstance(sharding, StackedSharding) else replicated_sharding(order)
                       for order in orders]
        _device_first_shardings[sharding] = targets
    return _jax.reorder_shards(buf, targets[index], _jax.ArrayCopySemantics.REUSE_INPUT)


def _rotated(sharding: PartitionedSharding, i: int) -> PartitionedSharding:
    """The same layout over the device list rotated to start at device `i`."""
    devices = list(sharding._devices)
    n = len(devices)
    _, tile_dims, tile_devices, replicas = sharding.layout
    return partitioned_sharding(devices[i:] + devices[:i], tile_dims,
                                tuple((d - i) % n for d in tile_devices), replicas,
                                ("rotated", sharding.named, i))


def to_numpy(buf, dtype) -> np.ndarray:
    """Device to host through DLPack (zero-copy on CPU): a read-only view of the buffer (of a
    multi-device array, of its first shard)."""
    buf.block_until_ready()
    return _first_shard_view(buf, dtype)


def _shard_view(buf, index: int, dtype) -> np.ndarray:
    return _first_shard_view(_device_first(buf, index) if index else buf, dtype)


def shard_to_numpy(buf, index: int, dtype) -> np.ndarray:
    """Shard `index` of a multi-device array (the part its sharding's device `index` holds) as
    a read-only host view."""
    buf.block_until_ready()
    return _shard_view(buf, index, dtype)


def shards_to_numpy(buf, dtype) -> list:
    """Every shard of a multi-device array, in its sharding's device order, as host views."""
    buf.block_until_ready()
    return [_shard_view(buf, i, dtype) for i in range(len(buf._sharding._devices))]


def single_device_of(buf):
    """The device holding a single-device buffer; None for one spread over several devices."""
    sharding = buf._sharding
    return sharding._device if type(sharding) is SingleDeviceSharding else None


def delete(buf) -> None:
    buf.delete()


def block_until_ready(buf):
    buf.block_until_ready()
    return buf


_DL_DTYPES = {(0, 8): "int8", (0, 16): "int16", (0, 32): "int32", (0, 64): "int64",
              (1, 8): "uint8", (1, 16): "uint16", (1, 32): "uint32", (1, 64): "uint64",
              (2, 16): "float16", (2, 32): "float32", (2, 64): "float64", (4, 16): "bfloat16",
              (5, 64): "complex64", (5, 128): "complex128", (6, 8): "bool"}


def dlpack_shape_dtype(capsule) -> tuple[tuple, np.dtype]:
    """The shape and dtype a (legacy, unconsumed) DLPack capsule describes."""
    tensor = _capsule_pointer(capsule, b"dltensor")
    ndim = ctypes.c_int32.from_address(tensor + 16).value
    code = ctypes.c_uint8.from_address(tensor + _DL_DTYPE_OFFSET).value
    bits = ctypes.c_uint8.from_address(tensor + _DL_DTYPE_OFFSET + 1).value
    if (code, bits) not in _DL_DTYPES:
        raise TypeError(f"from_dlpack: the DLPack dtype (code {code}, {bits} bits) has no spmd "
                        "dtype")
    shape = ctypes.cast(ctypes.c_void_p.from_address(tensor + 24).value,
                        ctypes.POINTER(ctypes.c_int64))
    return tuple(shape[i] for i in range(ndim)), np.dtype(getattr(dtypes, _DL_DTYPES[
        (code, bits)], None) or _DL_DTYPES[(code, bits)])


def from_dlpack(capsule, aval, device, copy):
    """A buffer of type `aval` on `device` from a DLPack capsule of host memory: zero-copy
    unless `copy`."""
    buf = _jax.dlpack_managed_tensor_to_buffer(capsule, device, None, copy, 1)
    return buf._rewrap_with_aval_and_sharding(aval, single_sharding(device))


def copy_to_host_async(buf) -> None:
    """Start bringing the buffer's data to the host. On CPU devices a read is zero-copy
    (DLPack) whatever this does, so a multi-device buffer is left alone: jaxlib's per-device
    views of it cost what the note above `_DLPackCapsule` says."""
    if type(buf._sharding) is SingleDeviceSharding:
        buf._copy_single_device_array_to_host_async()


def live_buffers() -> list:
    """Every device buffer this process holds (jaxlib's arrays, not spmd's)."""
    return list(client().live_arrays())


def is_deleted(buf) -> bool:
    return buf.is_deleted()


# ---------------------------------------------------------------- compile and execute
class Executable:
    """A compiled program with prebuilt output handlers: `exe(bufs)` returns output buffers.
    `out_sharding` is a function of the output aval or a list with one sharding per output."""
    __slots__ = ("loaded", "handlers", "devices", "execute")

    def __init__(self, loaded, out_avals, devices, out_sharding=None, effects: bool = False):
        self.loaded = loaded
        self.devices = devices
        # `execute(bufs)` launches it; a program that calls Python is tracked until it ends,
        # so that effects_barrier can wait for its callbacks
        self.execute = self._execute_tracked if effects else loaded.execute_sharded
        if out_sharding is None:
            shardings = [single_sharding(devices[0])] * len(out_avals)
        elif callable(out_sharding):
            shardings = [out_sharding(a) for a in out_avals]
        else:
            shardings = list(out_sharding)
        self.handlers = [_jax.array_result_handler(a, s, True, _skip_checks=True)
                         for a, s in zip(out_avals, shardings)]

    def __call__(self, bufs: Sequence):
        return self.execute(bufs).consume_with_handlers(self.handlers)

    def _execute_tracked(self, bufs: Sequence):
        results = self.loaded.execute_sharded(bufs, with_tokens=True)
        _running_effects.append(results.consume_token())
        if len(_running_effects) > _TRACKED_EFFECTS:  # (tokens cannot say they are done:
            _running_effects.popleft().block_until_ready()  # the oldest has long finished)
        return results

    def run_with_token(self, bufs: Sequence):
        """(output buffers, token): `token.block_until_ready()` waits for the whole execution,
        on every device, whatever becomes of its outputs (donated later, deleted)."""
        results = self.loaded.execute_sharded(bufs, with_tokens=True)
        token = results.consume_token()
        return results.consume_with_handlers(self.handlers), token

    def hlo_text(self) -> str:
        """XLA's optimized HLO: the program after its passes (fusion, layout, scheduling)."""
        return self.loaded.hlo_modules()[0].to_string()

    def cost_analysis(self) -> dict:
        """XLA's estimates ('flops', 'bytes accessed', ...), as jaxlib reports them."""
        return dict(self.loaded.cost_analysis())

    def memory_analysis(self):
        """jaxlib's CompiledMemoryStats: argument, output, alias and temporary sizes."""
        return self.loaded.get_compiled_memory_stats()


_running_effects: collections.deque = collections.deque()  # tokens of programs calling Python
_TRACKED_EFFECTS = 64


def wait_for_effects() -> None:
    """Wait until every program launched so far that calls Python has ended."""
    while _running_effects:
        try:
            _running_effects.popleft().block_until_ready()
        except IndexError:  # another thread took the last one
            break


_compile_cache = caches.LRUCache("compiled executables", compiled_only=True)
_loaded_cache = caches.LRUCache("loaded programs", compiled_only=True)


# Options XLA reads from the executable's build options rather than from its flags (JAX's
# compiler_options treat them the same way).
_BUILD_OPTIONS = ("exec_time_optimization_effort", "memory_fitting_effort",
                  "optimization_level", "memory_fitting_level")


def compiler_options_key(compiler_options) -> tuple:
    """A user's compiler_options ({'xla_cpu_enable_fast_math': True, ...} or None) as sorted
    (name, value) pairs: hashable, so that it keys the caches."""
    if not compiler_options:
        return ()
    if not isinstance(compiler_options, dict):
        raise TypeError("compiler_options must be a dict of XLA option names to values "
                        f"(e.g. {{'xla_cpu_enable_fast_math': True}}), got "
                        f"{type(compiler_options).__name__}")
    return tuple(sorted(compiler_options.items()))


def compile_options(num_replicas: int, device_ids: Sequence[int], overrides: tuple = (),
                    num_partitions: int = 0):
    """Options for `num_replicas` replicas, or, with num_partitions, for one program that XLA's
    SPMD partitioner (Shardy, as JAX 0.10.2 uses) splits into that many partitions."""
    opts = xc.CompileOptions()
    opts.num_replicas = num_replicas
    opts.num_partitions = max(num_partitions, 1)
    if num_partitions:
        opts.executable_build_options.use_spmd_partitioning = True
        opts.executable_build_options.use_shardy_partitioner = True
    opts.device_assignment = xc.DeviceAssignment.create(
        np.asarray(device_ids, dtype=np.int32).reshape(num_replicas, max(num_partitions, 1)))
    env = []
    for name, value in overrides:
        if name in _BUILD_OPTIONS:
            setattr(opts.executable_build_options, name, value)
        else:
            env.append((name, value))
    opts.env_option_overrides = env
    return opts


def compile(module_text: str, out_avals, devices: Sequence, out_sharding=None,
            host_callbacks=(), compiler_options: tuple = ()) -> Executable:
    """Compile StableHLO text for `devices` (one replica each), with XLA options
    `compiler_options` (compiler_options_key's pairs). Cached in memory by text, devices and
    options; with `compilation_cache_dir` set, also on disk as serialized executables."""
    key = (module_text, tuple(d.id for d in devices)) + (
        (compiler_options,) if compiler_options else ())
    # One program may be wanted with different output shardings (pmap's out_axes): the loaded
    # program is cached by text and devices, the Executable by those and its shardings.
    exe_key = None if callable(out_sharding) else key + (
        None if out_sharding is None else tuple(out_sharding),)
    exe = _compile_cache.get(exe_key) if exe_key is not None else None
    if exe is not None:
        return exe
    loaded = _loaded_cache.get(key)
    if loaded is None:
        with compile_log.compiling(module_text):
            loaded = _loaded_cache[key] = _compile_loaded(module_text, key, devices,
                                                          host_callbacks, compiler_options)
    exe = Executable(loaded, out_avals, list(devices), out_sharding, bool(host_callbacks))
    if exe_key is not None:
        _compile_cache[exe_key] = exe
    return exe


def compile_partitioned(module_text: str, out_avals, devices: Sequence, out_sharding,
                        compiler_options: tuple = ()) -> Executable:
    """Compile StableHLO text with Shardy sharding annotations into one program partitioned
    over `devices` (partition i on devices[i]). `out_sharding(i, aval, op_sharding)` gives
    result i's sharding from the layout XLA chose for it."""
    key = (module_text, tuple(d.id for d in devices), "partitioned") + (
        (compiler_options,) if compiler_options else ())
    exe = _compile_cache.get(key)
    if exe is None:
        loaded = _loaded_cache.get(key)
        if loaded is None:
            with compile_log.compiling(module_text):
                loaded = _loaded_cache[key] = _compile_loaded(module_text, key, devices, (),
                                                              compiler_options, partitioned=True)
        shardings = [out_sharding(i, a, op) for i, (a, op) in enumerate(
            zip(out_avals, loaded.get_output_shardings()))]
        exe = _compile_cache[key] = Executable(loaded, out_avals, list(devices), shardings)
    return exe


def _compile_loaded(module_text, key, devices, host_callbacks, compiler_options,
                    partitioned: bool = False):
    device_list = _jax.DeviceList(tuple(devices))
    ids = [d.id for d in devices]
    opts = (compile_options(1, ids, compiler_options, num_partitions=len(devices))
            if partitioned else compile_options(len(devices), ids, compiler_options))
    loaded = _load_from_disk(key, device_list, opts) if not host_callbacks else None
    if loaded is None:
        try:
            if host_callbacks:
                loaded = client().compile_and_load(_parse(module_text), device_list, opts,
                                                   host_callbacks=list(host_callbacks))
            else:
                loaded = client().compile_and_load(module_text, device_list, opts)
        except JaxRuntimeError as e:
            if not compiler_options:
                raise
            # XLA names a misspelt option only inside its internal error: say it plainly
            raise ValueError(f"XLA rejected the compiler_options {dict(compiler_options)}: "
                             f"{str(e).splitlines()[0]}. Use XLA's option names and value "
                             "types (e.g. {'xla_cpu_enable_fast_math': True})") from e
        if not host_callbacks:
            _save_to_disk(key, loaded)
    return loaded


def _disk_path(key):
    folder = config.compilation_cache_dir
    if not folder:
        return None
    digest = hashlib.sha256(repr((key, REQUIRED_JAXLIB)).encode()).hexdigest()
    return os.path.join(folder, digest + ".xla")


def _load_from_disk(key, device_list, opts):
    path = _disk_path(key)
    if path is None or not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        blob = f.read()
    try:
        return client().deserialize_executable(blob, device_list, opts)
    except JaxRuntimeError:
        return None  # stale entry from another build: recompile


def _save_to_disk(key, loaded):
    path = _disk_path(key)
    if path is None:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(client().serialize_executable(loaded) if hasattr(client(), "serialize_executable")
                else loaded.serialize())
    os.replace(tmp, path)


def _parse(module_text: str):
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import sdy, stablehlo
    import jaxlib.mlir._mlir_libs._jax_mlir_ext as jax_mlir_ext
    registry = ir.DialectRegistry()
    jax_mlir_ext.register_dialects(registry)
    ctx = ir.Context()
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    stablehlo.register_dialect(ctx)
    sdy.register_dialect(ctx)  # the shardings of programs over a mesh
    with ctx:
        return ir.Module.parse(module_text)


def stablehlo_module(module_text: str):
    """The MLIR module object of StableHLO text (what JAX's compiler_ir('stablehlo') gives)."""
    return _parse(module_text)


def stablehlo_text(module_text: str, debug_info: bool = False) -> str:
    """StableHLO text in MLIR's readable form (spmd writes the generic form)."""
    module = _parse(module_text)
    with module.context:
        return module.operation.get_asm(enable_debug_info=debug_info)


def hlo_computation(module_text: str):
    """The XlaComputation of StableHLO text (XLA's HLO before any pass)."""
    return _jax.mlir.mlir_module_to_xla_computation(module_text, use_tuple_args=False,
                                                    return_tuple=False)


def hlo_text(module_text: str) -> str:
    return hlo_computation(module_text).as_hlo_text()


def verify(module_text: str) -> None:
    """Parse and verify StableHLO text; raises with MLIR's diagnostic on a malformed program."""
    module = _parse(module_text)
    with module.context:
        if not module.operation.verify():
            raise ValueError("generated StableHLO failed verification")


# ---------------------------------------------------------------- LAPACK kernels
# jaxlib ships LAPACK's factorizations as typed-FFI custom calls for CPU (`lapack_sgetrf_ffi`
# and so on); XLA finds a target only once it is registered, so the first program that names
# one registers them all. transforms/lax/linalg.py writes the calls.
_LAPACK_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d",
                  np.dtype(np.complex64): "c", np.dtype(np.complex128): "z"}


_lapack_registered = threading.Lock(), []  # (lock, [True] once registered): XLA refuses twice


def _register_lapack() -> None:
    lock, done = _lapack_registered
    with lock:
        if done:
            return
        from jaxlib.cpu import _lapack  # loaded only by programs that use LAPACK
        _lapack.initialize()
        for name, capsule in _lapack.registrations().items():
            xc.register_custom_call_target(name, capsule, platform="cpu",
                                           api_version=int(name.endswith("_ffi")))
        done.append(True)


def lapack_target(routine: str, dtype) -> str:
    """The registered custom-call target of LAPACK's `routine` (e.g. "getrf") for `dtype`; with
    dtype None, jaxlib's kernel of that name that reads the dtype itself
    ("tridiagonal_solve_perturbed")."""
    _register_lapack()
    if dtype is None:
        return f"{routine}_ffi"
    return f"lapack_{_LAPACK_PREFIX[np.dtype(dtype)]}{routine}_ffi"
