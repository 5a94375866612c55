"""Checkpoints: a pytree (parameters, optimizer state, loader state) saved to one file,
atomically, by process 0, and read back by every process.

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

import os
import pickle
import re
import tempfile

import numpy as np

from spmd.data import topology
from spmd.data.placement import replicate, unreplicate  # noqa: F401
from spmd.transforms import tree_util
from spmd.transforms.array import Array

FORMAT = "spmd-checkpoint"
VERSION = 1
PREFIX = "checkpoint_"
_STEP_FILE = re.compile(re.escape(PREFIX) + r"(\d+)$")


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


def save_checkpoint(path, tree, step: int | None = None, keep: int | None = None) -> str:
    """Write `tree` to `path` (or, with `step`, to `path/checkpoint_<step>`) and return the file's
    path. Only process 0 writes; every process returns once the file exists. With `step` and
    `keep`, only the `keep` newest checkpoints of the directory are kept."""
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
    topology.barrier(f"spmd.checkpoints.save {target}")
    return target


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
    """The path of the highest-step `checkpoint_<step>` file in `directory`, or None."""
    found = _steps(os.fspath(directory))
    return found[-1][1] if found else None


def restore_checkpoint(path, target=None):
    """The tree saved at `path` (a file, or a directory whose latest checkpoint is read), with
    NumPy arrays as leaves. With `target` (a tree of the expected structure, e.g. freshly
    initialized parameters and optimizer state), the saved tree must have its structure and
    each array its leaf's shape and dtype, else a ValueError says which leaf differs."""
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in directory {path!r} (looked for "
                                    f"{PREFIX}<step> files); save one with "
                                    "save_checkpoint(directory, tree, step=...)")
        path = latest
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r}")
    with open(path, "rb") as f:
        payload = pickle.load(f)
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
