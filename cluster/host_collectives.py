"""Collectives between processes on host values, through the coordinator's key-value store.

`sync_global_devices`, `process_allgather`, `broadcast_one_to_all` and `assert_equal` as in
JAX's multihost_utils, and `check_agreement` (the same value everywhere, e.g. a program's
signature before a run that would hang on a mismatch): small things, not bulk data. Every
process posts its part under a key, reads everyone's, and after a barrier deletes its own key.
Each call also posts what it is (its kind and name), so processes that call different helpers
at the same point fail with an error naming both sides instead of waiting forever.
Every process must call the helpers in the same order. With one process they return at once.
"""
from __future__ import annotations

import io
import json
import struct
import time

import numpy as np

from spmd.cluster import distributed
from spmd.transforms import backend, tree_util

_TIMEOUT_MS = distributed.PEER_WAIT_SECONDS * 1000
_STEP_MS = 500  # how often a wait checks whether the awaited process has left
_counter = [0]


def sync_global_devices(name: str) -> None:
    """Block until every process reaches the call with the same `name`."""
    _exchange("sync_global_devices", str(name), [])


def process_allgather(in_tree, tiled: bool = False):
    """Every process's leaves, as NumPy arrays: stacked on a new leading axis (process order),
    or concatenated along axis 0 with `tiled=True`."""
    leaves, treedef = tree_util.tree_flatten(in_tree)
    local = [np.asarray(x) for x in leaves]
    if tiled and any(x.ndim == 0 for x in local):
        raise ValueError("process_allgather(tiled=True) concatenates along axis 0, so every "
                         "leaf needs at least one dimension; use tiled=False to stack scalars")
    parts = _exchange("process_allgather", "", local)
    _check_same_layout("process_allgather", parts, require_same_shape=not tiled)
    join = np.concatenate if tiled else np.stack
    return treedef.unflatten([join([p[i] for p in parts]) for i in range(len(local))])


def broadcast_one_to_all(in_tree, is_source: bool | None = None):
    """The source process's leaves on every process (as NumPy arrays). The source is process 0
    unless `is_source` says otherwise; exactly one process may be the source. The other
    processes pass a tree of the same structure, shapes and dtypes (its values are ignored)."""
    leaves, treedef = tree_util.tree_flatten(in_tree)
    local = [np.asarray(x) for x in leaves]
    if is_source is None:
        is_source = distributed.process_index() == 0
    layout = [(x.dtype.name, x.shape) for x in local]
    parts = _exchange("broadcast_one_to_all", "", local if is_source else [],
                      extra={"source": bool(is_source), "layout": repr(layout)})
    sources = [i for i, p in enumerate(parts) if p.header["source"]]
    if len(sources) != 1:
        raise ValueError(f"broadcast_one_to_all needs exactly one source process, but "
                         f"{len(sources)} processes passed is_source=True: {sources}")
    source = sources[0]
    for i, p in enumerate(parts):
        if p.header["layout"] != parts[source].header["layout"]:
            raise ValueError(f"broadcast_one_to_all: process {i} passed leaves "
                             f"{p.header['layout']} but the source, process {source}, passed "
                             f"{parts[source].header['layout']} (dtype, shape per leaf); pass "
                             f"the same structure on every process")
    return treedef.unflatten(list(parts[source]))


def assert_equal(in_tree, fail_message: str = "") -> None:
    """Raise AssertionError on every process unless all processes hold equal values."""
    gathered = tree_util.tree_leaves(process_allgather(in_tree))
    for leaf_index, stacked in enumerate(gathered):
        for process in range(1, stacked.shape[0]):
            if not np.array_equal(stacked[process], stacked[0], equal_nan=_can_be_nan(stacked)):
                raise AssertionError(
                    f"{fail_message + ': ' if fail_message else ''}leaf {leaf_index} differs "
                    f"between processes: process 0 has {np.array2string(stacked[0])}, "
                    f"process {process} has {np.array2string(stacked[process])}")


def check_agreement(what: str, value: str | dict) -> None:
    """Raise on every process unless all processes pass the same `value` for `what` (e.g. a
    program's signature before its first cross-process run), naming both sides. A dict of
    named fields is compared field by field, and the error names each field that differs."""
    fields = {k: str(v) for k, v in value.items()} if isinstance(value, dict) else None
    posted = json.dumps(fields, sort_keys=True) if fields is not None else str(value)
    parts = _exchange("check_agreement", str(what), [], extra={"value": posted})
    me = distributed.process_index()
    for i, part in enumerate(parts):
        theirs = part.header["value"]
        if theirs == posted:
            continue
        if fields is None:
            raise RuntimeError(f"{what} differs between processes: process {me} has {value!s} "
                               f"but process {i} has {theirs}")
        other = json.loads(theirs)
        differing = "; ".join(f"{k} is {fields.get(k)} on process {me} but {other.get(k)} on "
                              f"process {i}" for k in sorted(set(fields) | set(other))
                              if fields.get(k) != other.get(k))
        raise RuntimeError(f"{what} differs between processes: {differing}")


# ---------------------------------------------------------------- the exchange
class _Part(list):
    """One process's posted arrays, with the header it posted."""

    def __init__(self, header: dict, arrays: list):
        super().__init__(arrays)
        self.header = header


def _exchange(kind: str, name: str, arrays: list, extra: dict | None = None) -> list[_Part]:
    client = distributed.distributed_client()
    header = {"kind": kind, "name": name, **(extra or {})}
    if client is None:
        return [_Part(header, arrays)]
    me, count = distributed.process_index(), distributed.process_count()
    _counter[0] += 1
    prefix = f"spmd/host_collectives/{_counter[0]}"
    waiting_for = "the coordinator"
    try:
        client.key_value_set_bytes(f"{prefix}/{me}", _encode(header, arrays))
        parts = []
        for i in range(count):
            waiting_for = f"process {i}"
            parts.append(_Part(*_decode(_wait_for_post(client, f"{prefix}/{i}", i, kind, name))))
        waiting_for = "the other processes"
        client.wait_at_barrier(f"{prefix}/read", _TIMEOUT_MS)
        client.key_value_delete(f"{prefix}/{me}")
    except backend.JaxRuntimeError as e:
        reason = str(e).splitlines()[0]
        raise RuntimeError(f"{_describe(kind, name)} on process {me} failed while waiting for "
                           f"{waiting_for} ({reason}); a process of the job probably died "
                           f"or never reached this call") from None
    for i, part in enumerate(parts):
        theirs = (part.header["kind"], part.header["name"])
        if theirs != (kind, name):
            raise RuntimeError(f"processes called different host collectives at the same point: "
                               f"process {me} called {_describe(kind, name)} but process {i} "
                               f"called {_describe(*theirs)}; every process must call them in "
                               f"the same order")
    return parts


def _wait_for_post(client, key: str, process: int, kind: str, name: str) -> bytes:
    """Process `process`'s post, waiting in short steps to notice if it left the job instead
    (a peer that finished or called sys.exit() would otherwise be waited for until timeout)."""
    deadline = time.monotonic() + _TIMEOUT_MS / 1000
    while True:
        try:
            return client.blocking_key_value_get_bytes(key, _STEP_MS)
        except backend.JaxRuntimeError as e:
            if "DEADLINE_EXCEEDED" not in str(e) or time.monotonic() > deadline:
                raise
        if distributed.has_left(process):
            raise RuntimeError(f"{_describe(kind, name)} on process "
                               f"{distributed.process_index()} waits for process {process}, "
                               f"which has left the job without calling it")


def _describe(kind: str, name: str) -> str:
    return f"{kind}({name!r})" if name else f"{kind}()"


def _check_same_layout(what: str, parts: list[_Part], require_same_shape: bool) -> None:
    for i, part in enumerate(parts):
        if len(part) != len(parts[0]):
            raise ValueError(f"{what}: process {i} passed {len(part)} leaves but process 0 "
                             f"passed {len(parts[0])}")
        for leaf, (a, b) in enumerate(zip(part, parts[0])):
            same = a.shape == b.shape if require_same_shape else a.shape[1:] == b.shape[1:]
            if not same or a.dtype != b.dtype:
                raise ValueError(f"{what}: leaf {leaf} is {b.dtype}{list(b.shape)} on process 0 "
                                 f"but {a.dtype}{list(a.shape)} on process {i}")


def _can_be_nan(x: np.ndarray) -> bool:
    return x.dtype.kind in "fc"


# A post: 4-byte header length, a JSON header (its kind and name, and each array's dtype name
# and shape), then the arrays' raw bytes. Dtype names round-trip bfloat16 (np.save does not).
def _encode(header: dict, arrays: list) -> bytes:
    arrays = [np.asarray(x, dtype=x.dtype.newbyteorder("=")) for x in arrays]
    header = dict(header, arrays=[(x.dtype.name, list(x.shape)) for x in arrays])
    head = json.dumps(header).encode()
    out = io.BytesIO()
    out.write(struct.pack("<I", len(head)))
    out.write(head)
    for x in arrays:
        out.write(x.tobytes(order="C"))
    return out.getvalue()


def _decode(blob: bytes) -> tuple[dict, list]:
    (size,) = struct.unpack_from("<I", blob)
    header = json.loads(blob[4:4 + size])
    offset, arrays = 4 + size, []
    for dtype_name, shape in header.pop("arrays"):
        dtype = np.dtype(dtype_name)
        count = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(blob, dtype, count, offset).reshape(shape).copy())
        offset += count * dtype.itemsize
    return header, arrays
