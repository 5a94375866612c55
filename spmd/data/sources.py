"""What a loader reads rows from.

A source is a pytree (dicts, tuples, lists) whose leaves are row-indexable: NumPy arrays,
paths of `.npy` files (memory-mapped, so a process touches only the rows it reads), or any
object with `__len__` and `__getitem__(indices)` that returns the rows at an int64 index array
(an array, or a pytree of arrays, each with one row per index). Every leaf must have the same
number of rows."""
from __future__ import annotations

import os

import numpy as np

from spmd.transforms import tree_util


def _is_container(x) -> bool:
    return isinstance(x, (dict, list, tuple))


def _open_leaf(leaf, name: str):
    if isinstance(leaf, (str, os.PathLike)):
        path = os.fspath(leaf)
        if not path.endswith(".npy"):
            raise ValueError(f"data source {name}: {path!r} is not a .npy file; give the path of "
                             "an array saved with np.save (it is memory-mapped), or the array")
        return np.load(path, mmap_mode="r")
    if isinstance(leaf, np.ndarray):
        if leaf.ndim == 0:
            raise ValueError(f"data source {name} is a 0-d array; every array needs a leading "
                             "axis of examples")
        return leaf
    if hasattr(leaf, "__len__") and hasattr(leaf, "__getitem__"):
        return leaf
    raise TypeError(f"data source {name} is a {type(leaf).__name__}; give a NumPy array, a .npy "
                    "path, or an object with __len__ and __getitem__(indices), or a dict/tuple "
                    "of those")


def _leaf_names(tree, prefix="") -> list[str]:
    """Readable names of the leaves, in tree_util's flattening order (dict keys sorted)."""
    if isinstance(tree, dict):
        return [n for k in sorted(tree) for n in _leaf_names(tree[k], f"{prefix}[{k!r}]")]
    if isinstance(tree, (list, tuple)):
        return [n for i, x in enumerate(tree) for n in _leaf_names(x, f"{prefix}[{i}]")]
    return [prefix or "(the dataset)"]


class Source:
    """Row access over the leaves of a data pytree."""

    def __init__(self, data):
        leaves, self.treedef = tree_util.tree_flatten(data, is_leaf=lambda x: not _is_container(x))
        if not leaves:
            raise ValueError("the data source has no arrays; give a dict or tuple of arrays")
        self.names = _leaf_names(data)
        self.leaves = [_open_leaf(x, n) for x, n in zip(leaves, self.names)]
        lengths = [len(x) for x in self.leaves]
        if len(set(lengths)) > 1:
            described = ", ".join(f"{n} has {k}" for n, k in zip(self.names, lengths))
            raise ValueError(f"the arrays of the data source have different lengths ({described} "
                             "rows); every array needs one row per example")
        self.num_rows = lengths[0]
        self.is_dict = isinstance(data, dict)

    def __len__(self) -> int:
        return self.num_rows

    def layout(self) -> str:
        """The structure and each leaf's row type (dtype and shape after the leading axis, where
        the leaf says them): what every process of a job must agree on."""
        rows = [f"{n}: {np.dtype(x.dtype).name}{list(x.shape[1:])}" if hasattr(x, "dtype")
                and hasattr(x, "shape") else f"{n}: rows of a {type(x).__name__}"
                for n, x in zip(self.names, self.leaves)]
        return ", ".join(rows)

    def read(self, indices: np.ndarray):
        """The rows at `indices`, as the source's pytree of NumPy arrays."""
        return self.treedef.unflatten([_read_leaf(x, n, indices)
                                       for x, n in zip(self.leaves, self.names)])


def _read_leaf(leaf, name, indices):
    if isinstance(leaf, np.ndarray):
        # take() on a memmap copies just these rows into memory
        return np.asarray(np.take(leaf, indices, axis=0))
    rows = leaf[indices]
    out = tree_util.tree_map(np.asarray, rows)
    for x in tree_util.tree_leaves(out):
        if x.ndim == 0 or x.shape[0] != len(indices):
            raise ValueError(f"data source {name}: __getitem__ with {len(indices)} indices "
                             f"returned an array of shape {x.shape}; it must return one row per "
                             "index (leading dimension = len(indices))")
    return out
