"""Checkpoints: a pytree (parameters, optimizer state, loader state) saved to one file,
atomically, by process 0, and read back on every process.

Where the file lives, in a job over several hosts:
- By default (`shared=False`) on process 0's own disk: process 0 writes it, and at restore
  process 0 reads it and sends its bytes to the other processes through the coordinator (the
  job's key-value store). Only process 0's `path` counts; the other processes' paths are
  ignored, so the other hosts need neither the file nor the directory, and a job whose process
  0 runs on another host resumes from a copy of the directory on that host.
- With `shared=True` on a file system every process sees (NFS, a cluster file system): process
  0 still writes alone; every process checks at save that it sees the new file (else the
  directory is not shared, and every process raises at once), and at restore every process
  reads the file itself (no bytes through the coordinator: for checkpoints too big to send).
Each save logs (logger "spmd.checkpoints", INFO) the host and the path it wrote;
`location(path, shared)` words it for a script's own output.

The file is a pickle of the tree with every array leaf turned into a NumPy array (device
arrays are fetched; bfloat16 survives bit for bit through ml_dtypes), plus a format tag and the
step. It depends on neither the process count nor the device count, so a run on N processes
resumes on M. Save parameters that pmap replicated over the devices once, not per device:
`save_checkpoint(path, unreplicate(state))`. Like any pickle, load only files you trust.

Atomicity: the tree is written to a temporary file in the target's directory, flushed to disk
(fsync), then renamed over the target (os.replace, atomic on POSIX), so a crash mid-write
leaves the previous checkpoint whole and never a truncated one under the checkpoint's name.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
import socket
import tempfile

import numpy as np

from spmd import distributed
from spmd.data import topology
from spmd.data.placement import replicate, unreplicate  # noqa: F401
from spmd.transforms import tree_util
from spmd.transforms.array import Array

FORMAT = "spmd-checkpoint"
VERSION = 1
PREFIX = "checkpoint_"
_STEP_FILE = re.compile(re.escape(PREFIX) + r"(\d+)$")
# A restore sends the file through the coordinator's key-value store in pieces of this size
# (64 MiB went through in one piece when measured; gRPC messages end at 2 GiB).
_CHUNK_BYTES = 64 << 20
log = logging.getLogger("spmd.checkpoints")


def location(path, shared: bool = False) -> str:
    """Where a checkpoint at `path` is, in words: the path, this host's name, and who reads it."""
    who = ("a shared directory: every process reads it itself" if shared else
           "process 0's disk: at restore process 0 reads it and sends it to the others")
    return f"{os.path.abspath(os.fspath(path))} on host {socket.gethostname()} ({who})"


def _to_host(x):
    if isinstance(x, Array):
        return np.array(x)  # a writable host copy, independent of the device buffers
    if isinstance(x, (np.ndarray, np.generic)):
        return np.array(x)
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        return x
    if hasattr(x, "__array__"):
        return np.array(x)
    raise TypeError(f"cannot checkpoint a leaf of type {type(x).__name__} ({x!r:.60}); a "
                    "checkpoint holds arrays and Python scalars or strings")


def _target_path(path, step):
    path = os.fspath(path)
    return path if step is None else os.path.join(path, f"{PREFIX}{int(step)}")


def save_checkpoint(path, tree, step: int | None = None, keep: int | None = None,
                    shared: bool = False) -> str:
    """Write `tree` to `path` (or, with `step`, to `path/checkpoint_<step>`) and return the file's
    path. Only process 0 writes, on its own disk (its `path` is the one that counts); every
    process returns once the file exists. With `step` and `keep`, only the `keep` newest
    checkpoints of the directory are kept. `shared=True` says `path` is on a file system every
    process sees: each process then checks that it sees the file, and raises if not."""
    target = _target_path(path, step)
    if keep is not None and (step is None or keep < 1):
        raise ValueError("keep=N needs step= (it prunes checkpoint_<step> files of a directory) "
                         f"and N >= 1; got step={step}, keep={keep}")
    if topology.process_index() == 0:
        payload = {"format": FORMAT, "version": VERSION, "step": step,
                   "tree": tree_util.tree_map(_to_host, tree)}
        folder = os.path.dirname(os.path.abspath(target))
        os.makedirs(folder, exist_ok=True)
        _write_atomically(target, payload)
        if keep is not None:
            _prune(folder, keep)
        log.info("process 0 wrote checkpoint %s", location(target, shared))
    # named by step, not path: the other processes' paths may differ (only process 0's counts)
    topology.barrier(f"spmd.checkpoints.save step {step}")
    if shared and topology.process_count() > 1:
        _check_everyone_sees(target)
    return target


def _check_everyone_sees(target: str) -> None:
    """Raise on every process unless every process sees the file process 0 just wrote."""
    seen = distributed.process_allgather(np.array(os.path.exists(target)))
    blind = [i for i, ok in enumerate(seen) if not ok]
    if blind:
        raise RuntimeError(f"save_checkpoint(shared=True): process 0 wrote a checkpoint, but "
                           f"process(es) {blind} do not see it at the path they were given "
                           f"(process {topology.process_index()} was given {target!r}): the "
                           f"directory is not shared between the hosts. Pass the same path of "
                           f"a shared file system to every process, or shared=False (the "
                           f"default: process 0 reads its own disk at restore and sends the "
                           f"checkpoint)")


def _write_atomically(target: str, payload) -> None:
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _dump(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(folder)  # make the rename itself durable


def _dump(payload, f) -> None:
    pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)


def _load(blob: bytes):
    return pickle.loads(blob)


def _fsync_directory(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _steps(directory: str) -> list[tuple[int, str]]:
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        m = _STEP_FILE.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(directory, name)))
    return sorted(found)


def _prune(directory: str, keep: int) -> None:
    for _, old in _steps(directory)[:-keep]:
        os.remove(old)


def latest_checkpoint(directory) -> str | None:
    """The path of the highest-step `checkpoint_<step>` file in `directory` on this process's
    disk, or None."""
    found = _steps(os.fspath(directory))
    return found[-1][1] if found else None


def restore_checkpoint(path, target=None, shared: bool = False):
    """The tree saved at `path` (a file, or a directory whose latest checkpoint is read), with
    NumPy arrays as leaves, on every process. By default process 0 reads `path` on its own disk
    and sends the file to the others (whose `path` is ignored); with `shared=True` every
    process reads `path` itself. With `target` (a tree of the expected structure, e.g. freshly
    initialized parameters and optimizer state), the saved tree must have its structure and
    each array its leaf's shape and dtype, else a ValueError says which leaf differs."""
    if shared or topology.process_count() == 1:
        path, blob = _read(os.fspath(path))
    else:
        path, blob = _read_on_process_zero(os.fspath(path))
    payload = _load(blob)
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT):
        raise ValueError(f"{path!r} is not an spmd checkpoint (written by "
                         "spmd.checkpoints.save_checkpoint)")
    if payload["version"] > VERSION:
        raise ValueError(f"{path!r} is a version {payload['version']} checkpoint; this spmd "
                         f"reads up to version {VERSION}: upgrade spmd")
    tree = payload["tree"]
    if target is not None:
        _check_matches(tree, target, path)
    return tree


def _read(path: str) -> tuple[str, bytes]:
    """(the file's path, its bytes): `path` itself, or the latest checkpoint of directory
    `path`, on this process's disk."""
    where = f"on host {socket.gethostname()}"
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in directory {path!r} {where} (looked for "
                                    f"{PREFIX}<step> files); save one with "
                                    "save_checkpoint(directory, tree, step=...)")
        path = latest
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r} {where}")
    with open(path, "rb") as f:
        return path, f.read()


def _read_on_process_zero(path: str) -> tuple[str, bytes]:
    """Process 0's `_read(path)` on every process, sent through the coordinator in pieces; a
    file process 0 cannot read raises the same error on every process."""
    error, blob = "", b""
    if topology.process_index() == 0:
        try:
            path, blob = _read(path)
        except OSError as e:
            error = f"{type(e).__name__}: process 0: {e}"
    head = distributed.broadcast_one_to_all(
        {"sizes": np.array([len(error.encode()), len(path.encode()), len(blob)], np.int64)})
    error_size, path_size, blob_size = (int(n) for n in head["sizes"])
    if error_size:
        kind, _, message = _receive(error.encode(), error_size).decode().partition(": ")
        raise (FileNotFoundError if kind == "FileNotFoundError" else OSError)(message)
    path = _receive(path.encode(), path_size).decode()
    pieces = [_receive(blob[start:start + _CHUNK_BYTES], min(_CHUNK_BYTES, blob_size - start))
              for start in range(0, blob_size, _CHUNK_BYTES)]
    return path, b"".join(pieces)


def _receive(data: bytes, size: int) -> bytes:
    """Process 0's `data` (`size` bytes) on every process."""
    mine = np.frombuffer(data, np.uint8) if topology.process_index() == 0 else \
        np.zeros(size, np.uint8)
    return distributed.broadcast_one_to_all(mine).tobytes()


def _check_matches(tree, target, path):
    expected = tree_util.tree_structure(target)
    if tree_util.tree_structure(tree) != expected:
        raise ValueError(f"checkpoint {path!r} holds a tree of structure "
                         f"{tree_util.tree_structure(tree)}, but the target has structure "
                         f"{expected}")
    for i, (saved, want) in enumerate(zip(tree_util.tree_leaves(tree),
                                          tree_util.tree_leaves(target))):
        if not hasattr(want, "shape"):
            continue
        shape, dtype = tuple(want.shape), np.dtype(want.dtype)
        got_shape, got_dtype = np.shape(saved), np.asarray(saved).dtype
        if got_shape != shape or got_dtype != dtype:
            device_axis = got_shape != shape and (got_shape[1:] == shape or shape[1:] == got_shape)
            raise ValueError(f"checkpoint {path!r}: leaf {i} was saved as {got_dtype}"
                             f"{list(got_shape)} but the target expects {dtype}{list(shape)}"
                             + (" (they differ by a leading device axis: checkpoint "
                                "unreplicate(tree), restore, then replicate(tree))"
                                if device_axis else ""))
