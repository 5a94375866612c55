"""`spmd.tree`, as `jax.tree`: the short names of `spmd.tree_util`'s pytree functions
(`spmd.tree.map` is `tree_util.tree_map`), over the same registry."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from spmd.transforms import tree_util as _tu

__all__ = ["all", "broadcast", "flatten", "flatten_with_path", "leaves", "leaves_with_path", "map",
           "map_with_path", "reduce", "reduce_associative", "structure", "transpose",
           "static", "unflatten"]

flatten = _tu.tree_flatten
unflatten = _tu.tree_unflatten
leaves = _tu.tree_leaves
structure = _tu.tree_structure
map = _tu.tree_map
reduce = _tu.tree_reduce
all = _tu.tree_all
transpose = _tu.tree_transpose
flatten_with_path = _tu.tree_flatten_with_path
leaves_with_path = _tu.tree_leaves_with_path
map_with_path = _tu.tree_map_with_path
broadcast = _tu.tree_broadcast


def static(**kwargs):
    """A dataclass field that `tree_util.register_dataclass` keeps as static data, not a leaf:
    `dataclasses.field` with `metadata={"static": True}` (and the caller's metadata)."""
    metadata = {"static": True, **(kwargs.pop("metadata", None) or {})}
    return dataclasses.field(metadata=metadata, **kwargs)

_NO_IDENTITY = object()


def reduce_associative(operation: Callable[[Any, Any], Any], tree, *, identity=_NO_IDENTITY,
                       is_leaf=None):
    """Reduce the leaves with an associative `operation` pairwise, in a tree of depth
    log2(leaves) (as JAX does); `identity` is the result for a tree without leaves."""
    values = _tu.tree_leaves(tree, is_leaf)
    if not values:
        if identity is _NO_IDENTITY:
            raise ValueError("reduce_associative: the tree has no leaves; pass identity= (the "
                             "operation's identity element) to reduce an empty tree")
        return identity
    while len(values) > 1:
        pairs = [operation(a, b) for a, b in zip(values[0::2], values[1::2])]
        values = pairs + values[len(pairs) * 2:]
    return values[0]
