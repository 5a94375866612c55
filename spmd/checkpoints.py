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

The file (spmd/checkpoint_format.py) is the tree's arrays as raw bytes after a JSON
description of the tree: structure, dtypes (bfloat16 bit for bit), shapes, a CRC-32 checksum
per array, and the step. Restore parses JSON and copies bytes, and builds only the container
types it knows (dicts, lists, tuples, OrderedDicts, None, and the namedtuples registered with
`register_namedtuple`: spmd.optim's states are), so a crafted file cannot run code; a damaged
one raises `DamagedCheckpoint` naming the file and what is wrong (which array fails its
checksum, how many bytes a truncated file lacks). Restoring a directory's latest checkpoint
falls back to the newest intact one, with a warning naming each damaged file. The file depends
on neither the process count nor the device count, so a run on N processes resumes on M. Save
parameters that pmap replicated over the devices once, not per device:
`save_checkpoint(path, unreplicate(state))`.

Atomicity: the tree is written to a temporary file in the target's directory, flushed to disk
(fsync), then renamed over the target (os.replace, atomic on POSIX), so a crash mid-write
leaves the previous checkpoint whole and never a truncated one under the checkpoint's name. A
process killed mid-write leaves its temporary file: the next save into the directory removes
it. Steps only move forward: saving a step older than the directory's newest is refused unless
`overwrite=True`, which removes the newer checkpoints (a run restarted from an earlier step).
"""
from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import warnings

import numpy as np

from spmd import checkpoint_format, distributed
from spmd.checkpoint_format import DamagedCheckpoint, register_namedtuple  # noqa: F401
from spmd.data import topology
from spmd.data.placement import replicate, unreplicate  # noqa: F401
from spmd.transforms import tree_util
from spmd.transforms.array import Array

PREFIX = "checkpoint_"
_STEP_FILE = re.compile(re.escape(PREFIX) + r"(\d+)$")
# what _write_atomically's mkstemp names a temporary file: "." + the target's name + "." + 8 chars
_TEMPORARY = r"\.{}\.[A-Za-z0-9_]{{8}}\.tmp$"
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
                    shared: bool = False, overwrite: bool = False) -> str:
    """Write `tree` to `path` (or, with `step`, to `path/checkpoint_<step>`) and return the file's
    path. Only process 0 writes, on its own disk (its `path` is the one that counts); every
    process returns once the file exists, or raises process 0's error. With `step` and `keep`,
    only the `keep` newest checkpoints of the directory are kept. A `step` older than the
    directory's newest is refused, unless `overwrite=True`: then the newer checkpoints are
    removed. `shared=True` says `path` is on a file system every process sees: each process then
    checks that it sees the file, and raises if not."""
    target = _target_path(path, step)
    if keep is not None and (step is None or keep < 1):
        raise ValueError("keep=N needs step= (it prunes checkpoint_<step> files of a directory) "
                         f"and N >= 1; got step={step}, keep={keep}")
    error = ""
    if topology.process_index() == 0:
        try:
            _save_on_process_zero(target, tree, step, keep, overwrite)
            log.info("process 0 wrote checkpoint %s", location(target, shared))
        except Exception as e:
            if topology.process_count() == 1:
                raise
            error = f"{type(e).__name__}: {e}"
    # also the barrier: every process waits here for process 0's outcome
    _raise_process_zero_error(error)
    if shared and topology.process_count() > 1:
        _check_everyone_sees(target)
    return target


def _save_on_process_zero(target: str, tree, step, keep, overwrite: bool) -> None:
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    _remove_leftovers(folder, _STEP_FILE.pattern[:-1] if step is not None
                      else re.escape(os.path.basename(target)))
    if step is not None:
        newer = [(s, p) for s, p in _steps(folder) if s > int(step)]
        if not overwrite:  # a damaged newer one is what a restore skipped: it goes
            newer = [(s, p) for s, p in newer if _is_intact(p) or os.remove(p)]
        if newer and not overwrite:
            raise ValueError(f"save_checkpoint: step {step} is older than the newest checkpoint "
                             f"of {folder}, {newer[-1][1]}; a checkpoint of an older step would "
                             f"not be the latest (and keep= would prune it at once). Pass "
                             f"overwrite=True to remove the newer checkpoints (a run restarted "
                             f"from an earlier step), or save into another directory")
        for _, newer_path in newer:
            os.remove(newer_path)
    _write_atomically(target, {"step": step, "tree": tree_util.tree_map(_to_host, tree)})
    if keep is not None:
        _prune(folder, keep)


def _is_intact(path: str) -> bool:
    try:
        _load(_read_bytes(path), path)
        return True
    except DamagedCheckpoint:
        log.warning("removing damaged checkpoint %s (a newer step than the one being saved)", path)
        return False


def _remove_leftovers(folder: str, name_pattern: str) -> None:
    """Remove the temporary files of earlier saves that were killed mid-write (only a running
    save has one, and process 0 saves one checkpoint at a time)."""
    leftover = re.compile(_TEMPORARY.format(name_pattern))
    for name in os.listdir(folder):
        if leftover.match(name):
            log.warning("removing %s, left by a save that was killed mid-write",
                        os.path.join(folder, name))
            os.remove(os.path.join(folder, name))


def _raise_process_zero_error(error: str) -> None:
    """Raise on every process the error process 0 had (`error`, "Kind: message"; "" if none),
    as the same kind where it is one of OSError's, DamagedCheckpoint or ValueError; a no-op in
    a single process. Every process waits here until process 0 arrives."""
    if topology.process_count() == 1:
        return
    size = distributed.broadcast_one_to_all(np.array(len(error.encode()), np.int64))
    if int(size):
        kind, _, message = _receive(error.encode(), int(size)).decode().partition(": ")
        raise _ERRORS.get(kind, RuntimeError)(f"process 0: {message}")


_ERRORS = {e.__name__: e for e in (FileNotFoundError, OSError, DamagedCheckpoint, ValueError,
                                   TypeError)}


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
    checkpoint_format.dump(payload, f)


def _load(blob: bytes, path: str):
    """The payload ({"step", "tree"}) of the file `path`'s bytes; DamagedCheckpoint naming
    `path` if they are not an intact checkpoint."""
    try:
        return checkpoint_format.load(blob)
    except DamagedCheckpoint as e:
        raise type(e)(f"checkpoint {path!r} is damaged or not an spmd checkpoint: {e}") from None


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
        path, payload = _read(os.fspath(path))[::2]
    else:
        path, payload = _read_on_process_zero(os.fspath(path))
    tree = payload["tree"]
    if target is not None:
        _check_matches(tree, target, path)
    return tree


def _read(path: str) -> tuple[str, bytes, dict]:
    """(the file's path, its bytes, their payload): `path` itself, or the newest intact
    checkpoint of directory `path` (warning about each newer damaged one), on this process's
    disk."""
    where = f"on host {socket.gethostname()}"
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"no checkpoint file at {path!r} {where}")
        blob = _read_bytes(path)
        return path, blob, _load(blob, path)
    found = _steps(path)
    if not found:
        raise FileNotFoundError(f"no checkpoint in directory {path!r} {where} (looked for "
                                f"{PREFIX}<step> files); save one with "
                                "save_checkpoint(directory, tree, step=...)")
    for _, candidate in reversed(found):
        blob = _read_bytes(candidate)
        try:
            return candidate, blob, _load(blob, candidate)
        except DamagedCheckpoint as e:
            warnings.warn(f"{e}. Restoring the newest intact checkpoint of {path!r} {where} "
                          "instead", DamagedCheckpointWarning, stacklevel=4)
    raise DamagedCheckpoint(f"every checkpoint in directory {path!r} {where} is damaged (the "
                            f"warnings above say how): {[p for _, p in found]}")


class DamagedCheckpointWarning(UserWarning):
    """The latest checkpoint of a directory is damaged: an older, intact one is restored."""


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _read_on_process_zero(path: str) -> tuple[str, dict]:
    """Process 0's `_read(path)` on every process: the bytes are sent through the coordinator in
    pieces, and each process decodes them. A file process 0 cannot read or decode raises the
    same error on every process."""
    error, blob, payload = "", b"", None
    if topology.process_index() == 0:
        try:
            path, blob, payload = _read(path)
        except (OSError, DamagedCheckpoint) as e:
            error = f"{type(e).__name__}: {e}"
    _raise_process_zero_error(error)
    head = distributed.broadcast_one_to_all(
        {"sizes": np.array([len(path.encode()), len(blob)], np.int64)})
    path_size, blob_size = (int(n) for n in head["sizes"])
    path = _receive(path.encode(), path_size).decode()
    pieces = [_receive(blob[start:start + _CHUNK_BYTES], min(_CHUNK_BYTES, blob_size - start))
              for start in range(0, blob_size, _CHUNK_BYTES)]
    if payload is None:  # process 0 has decoded (and verified) them already
        payload = _load(b"".join(pieces), path)
    return path, payload


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
