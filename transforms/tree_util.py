"""Pytrees, as in `jax.tree_util`: nested tuples, lists, dicts (sorted keys), None (a node with
no children), namedtuples, OrderedDicts and defaultdicts, plus any type registered with
`register_pytree_node`. Leaves are everything else.

Flattening, unflattening and the structures (`PyTreeDef`) are jaxlib's C++ pytrees, reached
through `backend`: every jit call flattens its arguments, and in Python that was most of a
call with a parameter tree."""
from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable, Iterable, TypeVar

from spmd.transforms import backend

_pytree = backend.pytree

__all__ = [
    "PyTreeDef", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey", "Partial", "LEAF",
    "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure", "tree_map",
    "flatten_up_to", "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path",
    "keystr", "treedef_is_leaf", "treedef_is_strict_leaf", "treedef_children", "treedef_tuple",
    "all_leaves", "is_tree_node", "tree_transpose", "tree_reduce", "tree_all",
    "register_pytree_node", "register_pytree_node_class", "register_pytree_with_keys",
    "register_pytree_with_keys_class", "register_dataclass", "tree_broadcast",
    "tree_reduce_associative", "flatten_one_level", "flatten_one_level_with_keys",
    "register_static", "default_registry", "KeyEntry", "KeyPath",
]

# spmd's registry. Its module and name let pickle save a PyTreeDef by reference to it.
registry = backend.pytree_registry()
registry.__module__ = __name__
registry.__name__ = "registry"
default_registry = registry  # JAX's name for it

KeyEntry = TypeVar("KeyEntry", bound=Any)  # one step of a key path (SequenceKey, DictKey...)
KeyPath = tuple[KeyEntry, ...]

PyTreeDef = _pytree.PyTreeDef
SequenceKey = _pytree.SequenceKey
DictKey = _pytree.DictKey
GetAttrKey = _pytree.GetAttrKey
FlattenedIndexKey = _pytree.FlattenedIndexKey


# ---------------------------------------------------------------- flatten, unflatten
def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """(leaves, treedef) with leaves in a fixed order (dicts by sorted key)."""
    return registry.flatten(tree, is_leaf)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable):
    try:
        return treedef.unflatten(leaves)
    except ValueError:
        # jaxlib's text does not show the structure; a custom unflatten's own error passes on
        if not hasattr(leaves, "__len__") or len(leaves) == treedef.num_leaves:
            raise
        raise ValueError(f"tree_unflatten: the structure {treedef} has {treedef.num_leaves} "
                         f"leaves, but {len(leaves)} values were given") from None


def tree_leaves(tree, is_leaf=None) -> list:
    return registry.flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> PyTreeDef:
    return registry.flatten(tree, is_leaf)[1]


LEAF = tree_structure(0)


def tree_map(f: Callable, tree, *rest, is_leaf=None):
    """Apply `f` leafwise over one or more trees; the first one's structure is a prefix of the
    others' (their subtrees at its leaves are passed whole)."""
    leaves, treedef = registry.flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten(map(f, leaves))
    others = [flatten_up_to(treedef, r) for r in rest]
    return treedef.unflatten(map(f, leaves, *others))


def flatten_up_to(treedef: PyTreeDef, tree) -> list:
    """The subtrees of `tree` at the leaf positions of `treedef` (a prefix of tree's structure)."""
    try:
        return treedef.flatten_up_to(tree)
    except ValueError as e:
        where = _first_mismatch(treedef, tree, ())
        if where is None:  # a custom node's flatten raised ValueError itself
            raise
        raise ValueError(where) from e


def _first_mismatch(treedef: PyTreeDef, tree, path: tuple) -> str | None:
    """Where and how `tree` departs from `treedef` (only called once flatten_up_to has failed:
    it is Python, and walks the tree)."""
    node = treedef.node_data()
    if node is None:
        return None
    node_type, aux = node
    if node_type is dict:  # the keys: a list in a PyTreeDef, a tuple from flatten_one_level
        aux = tuple(aux)
    at = f"pytree structure mismatch at {keystr(path) or 'the root'}: expected"
    if type(tree) is not node_type:
        return f"{at} {node_type.__name__}, got {type(tree).__name__}"
    children = treedef.children()
    keyed, tree_aux = registry.flatten_one_level_with_keys(tree)
    keyed = list(keyed)
    if tree_aux != aux or len(keyed) != len(children):
        return f"{at} {treedef}, got {tree_structure(tree)}"
    for sub, (key, child) in zip(children, keyed):
        found = _first_mismatch(sub, child, path + (key,))
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------- key paths
def tree_flatten_with_path(tree, is_leaf: Callable | None = None, is_leaf_takes_path=False):
    """([(key path, leaf)], treedef); a key path is a tuple of SequenceKey, DictKey,
    GetAttrKey (namedtuple fields, dataclasses) and FlattenedIndexKey (nodes without keys)."""
    if is_leaf is not None and not is_leaf_takes_path:
        leaf_only = is_leaf
        is_leaf = lambda _, x: leaf_only(x)  # noqa: E731
    return registry.flatten_with_path(tree, is_leaf)


def tree_leaves_with_path(tree, is_leaf=None, is_leaf_takes_path=False) -> list:
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable, tree, *rest, is_leaf=None, is_leaf_takes_path=False):
    """`f(key_path, leaf, *others)` leafwise, as `tree_map`."""
    path_leaves, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = [flatten_up_to(treedef, r) for r in rest]
    return treedef.unflatten(f(path, leaf, *xs)
                             for (path, leaf), *xs in zip(path_leaves, *others))


def keystr(keys: tuple, *, simple: bool = False, separator: str = "") -> str:
    """A key path as text: `['a'][0].x` (simple: `a0x`, best with a separator such as '/')."""
    return separator.join(map(_simple_key if simple else str, keys))


def _simple_key(key) -> str:
    if isinstance(key, SequenceKey):
        return str(key.idx)
    if isinstance(key, (DictKey, FlattenedIndexKey)):
        return str(key.key)
    if isinstance(key, GetAttrKey):
        return key.name
    return str(key)


# ---------------------------------------------------------------- structures
def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """One node: a leaf, or an empty node such as None or ()."""
    return treedef.num_nodes == 1


def treedef_is_strict_leaf(treedef: PyTreeDef) -> bool:
    """A single leaf (None or () is not)."""
    return treedef.num_nodes == 1 and treedef.num_leaves == 1


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    return treedef.children()


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The structure of a tuple whose elements have the given structures."""
    return _pytree.treedef_tuple(registry, list(treedefs))


def all_leaves(iterable, is_leaf=None) -> bool:
    """Whether every element is a leaf (so a flat list stays flat through tree_map)."""
    if is_leaf is None:
        return _pytree.all_leaves(registry, iterable)
    items = list(iterable)
    leaves = tree_leaves(items, is_leaf)
    return len(leaves) == len(items) and all(a is b for a, b in zip(items, leaves))


def is_tree_node(typ: type) -> bool:
    return registry.is_node(typ)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, tree):
    """A tree of structure outer of trees of structure inner, made a tree inner of outers."""
    leaves, treedef = tree_flatten(tree)
    if inner_treedef is None:
        inner_treedef = tree_structure(outer_treedef.flatten_up_to(tree)[0])
    inner, outer = inner_treedef.num_leaves, outer_treedef.num_leaves
    if treedef.num_leaves != inner * outer:
        raise TypeError(f"tree_transpose: the tree {treedef} does not have the structure "
                        f"{outer_treedef.compose(inner_treedef)} (outer of inner)")
    rows = [leaves[i * inner:(i + 1) * inner] for i in range(outer)]
    return inner_treedef.unflatten(outer_treedef.unflatten(col) for col in zip(*rows))


# ---------------------------------------------------------------- reductions
_NO_INITIALIZER = object()


def tree_reduce(f: Callable, tree, initializer=_NO_INITIALIZER, is_leaf=None):
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        return functools.reduce(f, leaves)
    return functools.reduce(f, leaves, initializer)


def tree_all(tree, *, is_leaf=None) -> bool:
    return all(tree_leaves(tree, is_leaf))


def tree_reduce_associative(operation: Callable, tree, *, identity=_NO_INITIALIZER,
                            is_leaf=None):
    """The leaves combined by the associative `operation` in a balanced tree (each half first,
    so its depth is log2 of the number of leaves); `identity` is the result of no leaves."""
    def halves(leaves):
        if len(leaves) == 1:
            return leaves[0]
        middle = len(leaves) // 2
        return operation(halves(leaves[:middle]), halves(leaves[middle:]))
    leaves = tree_leaves(tree, is_leaf)
    if leaves:
        return halves(leaves)
    if identity is _NO_INITIALIZER:
        raise TypeError("Must specify identity for parallel reduction of empty sequence.")
    return identity


def tree_broadcast(prefix_tree, full_tree, is_leaf: Callable[[Any], bool] | None = None):
    """`full_tree`'s structure with each leaf of `prefix_tree` (a prefix of it) repeated over
    the subtree it stands for."""
    prefix_leaves, prefix_def = registry.flatten(prefix_tree, is_leaf)
    subtrees = flatten_up_to(prefix_def, full_tree)
    return tree_structure(full_tree).unflatten(
        leaf for leaf, sub in zip(prefix_leaves, subtrees)
        for _ in range(tree_structure(sub).num_leaves))


def flatten_one_level(tree) -> tuple[Iterable, Any]:
    """(children, aux data) of one pytree node; a ValueError for a leaf."""
    out = registry.flatten_one_level(tree)
    if out is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    return out


def flatten_one_level_with_keys(tree) -> tuple[Iterable, Any]:
    """([(key, child)], aux data) of one pytree node; a ValueError for a leaf."""
    out = registry.flatten_one_level_with_keys(tree)
    if out is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    return out


# ---------------------------------------------------------------- registration
def register_pytree_node(node_type: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None):
    """`flatten_func(node) -> (children, aux)`, `unflatten_func(aux, children) -> node`; aux
    must be hashable (structures key jit's caches). `flatten_with_keys_func(node) ->
    ([(key, child)], aux)` names the children in key paths (else FlattenedIndexKey(i))."""
    registry.register_node(node_type, flatten_func, unflatten_func, flatten_with_keys_func)


def register_static(cls):
    """Decorator: instances of `cls` (hashable) are pytree nodes with no children, their value
    part of the structure, so jit treats them as static without static_argnums."""
    register_pytree_with_keys(cls, lambda obj: ((), obj), lambda obj, _children: obj)
    return cls


def register_pytree_node_class(cls):
    """Decorator: the class supplies `tree_flatten(self)` and classmethod `tree_unflatten`."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_pytree_with_keys(node_type: type, flatten_with_keys: Callable,
                              unflatten_func: Callable, flatten_func: Callable | None = None):
    """As register_pytree_node, with `flatten_with_keys(node) -> ([(key, child)], aux)`."""
    if flatten_func is None:
        def flatten_func(node):
            keyed, aux = flatten_with_keys(node)
            return [child for _, child in keyed], aux
    register_pytree_node(node_type, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_with_keys_class(cls):
    """Decorator: the class supplies `tree_flatten_with_keys(self)` and `tree_unflatten`."""
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              (lambda x: x.tree_flatten()) if hasattr(cls, "tree_flatten")
                              else None)
    return cls


def register_dataclass(node_type: type, data_fields=None, meta_fields=None):
    """A dataclass (or any class built by keyword) as a node: `data_fields` are children,
    `meta_fields` are static aux data. Without the lists, fields with `metadata={"static":
    True}` are meta, the others data."""
    if (data_fields is None) != (meta_fields is None):
        raise TypeError("register_dataclass: give both data_fields and meta_fields, or neither, "
                        f"but got data_fields={data_fields!r}, meta_fields={meta_fields!r}")
    if data_fields is None:
        if not dataclasses.is_dataclass(node_type):
            raise TypeError(f"register_dataclass: {node_type.__name__} is not a dataclass: "
                            "pass data_fields and meta_fields")
        fields = dataclasses.fields(node_type)
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    if overlap := set(data_fields) & set(meta_fields):
        raise ValueError(f"register_dataclass: fields {sorted(overlap)} are both data and meta")
    if dataclasses.is_dataclass(node_type):
        init = {f.name for f in dataclasses.fields(node_type) if f.init}
        if init != {*data_fields, *meta_fields}:
            raise ValueError(f"register_dataclass: data_fields and meta_fields must be the "
                             f"{node_type.__name__} fields with init=True, {sorted(init)}, but "
                             f"are {sorted({*data_fields, *meta_fields})}")
    registry.register_dataclass_node(node_type, list(data_fields), list(meta_fields))
    return node_type


register_pytree_with_keys(
    collections.OrderedDict,
    lambda d: ([(DictKey(k), v) for k, v in d.items()], tuple(d)),  # insertion order
    lambda keys, values: collections.OrderedDict(zip(keys, values)))
register_pytree_with_keys(
    collections.defaultdict,
    lambda d: ([(DictKey(k), d[k]) for k in sorted(d)], (d.default_factory, tuple(sorted(d)))),
    lambda aux, values: collections.defaultdict(aux[0], zip(aux[1], values)))


# ---------------------------------------------------------------- Partial
class _PartialFunc:
    """Wraps a functools.partial given to Partial, which would otherwise merge it into itself
    and make its arguments leaves; compares and hashes as the wrapped partial."""

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self):
        return hash(self.fun)

    def __eq__(self, other):
        return self.fun == (other.fun if isinstance(other, _PartialFunc) else other)


class Partial(functools.partial):
    """functools.partial as a pytree: the bound arguments are children, the function is aux
    data, so a Partial can be passed to jitted or mapped functions."""

    def __new__(cls, func, *args, **kwargs):
        if isinstance(func, functools.partial):
            func = _PartialFunc(func)
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_node(Partial, lambda p: ((p.args, p.keywords), p.func),
                     lambda func, c: Partial(func, *c[0], **c[1]))
