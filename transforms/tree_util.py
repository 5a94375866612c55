"""Pytrees: nested tuples, lists, dicts (sorted keys), None and namedtuples, plus any type
registered with `register_pytree_node`. Leaves are everything else."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple


class _NodeKind(NamedTuple):
    to_iterable: Callable  # node -> (children, aux data)
    from_iterable: Callable  # (aux data, children) -> node


_registry: dict[type, _NodeKind] = {}


# Types seen to be leaves (neither registered nor namedtuples): their values are appended
# without a call per leaf, which is most of flattening a tree of arrays (every jit call).
_leaf_types: set[type] = set()


def register_pytree_node(node_type: type, flatten_func: Callable, unflatten_func: Callable):
    """`flatten_func(node) -> (children, aux)`, `unflatten_func(aux, children) -> node`."""
    _registry[node_type] = _NodeKind(flatten_func, unflatten_func)
    _leaf_types.clear()


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda t: (t, None), lambda _, c: list(c))
register_pytree_node(dict, lambda d: ([d[k] for k in sorted(d)], tuple(sorted(d))),
                     lambda keys, c: dict(zip(keys, c)))
register_pytree_node(type(None), lambda _: ((), None), lambda _, c: None)


def _node_kind(x):
    kind = _registry.get(type(x))
    if kind is None and isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x), _NodeKind(lambda t: (tuple(t), None),
                                  lambda _, c, cls=type(x): cls(*c))
    if kind is None:
        _leaf_types.add(type(x))
        return None, None
    return type(x), kind


class PyTreeDef:
    """The structure of a pytree: node type, aux data and children, leaves as '*'."""
    __slots__ = ("node_type", "aux", "children", "num_leaves", "_hash")

    def __init__(self, node_type, aux, children: tuple):
        self.node_type, self.aux, self.children = node_type, aux, children
        self.num_leaves = 1 if node_type is None else sum([c.num_leaves for c in children])
        # the children's stored hashes, not hash(children): that would call __hash__ per child
        self._hash = hash((node_type, _hashable(aux), tuple([c._hash for c in children])))

    def __eq__(self, other):
        return (isinstance(other, PyTreeDef) and self._hash == other._hash
                and self.node_type is other.node_type and self.aux == other.aux
                and self.children == other.children)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"PyTreeDef({self._str()})"

    def _str(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(c._str() for c in self.children)
        if self.node_type is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.node_type is list:
            return f"[{inner}]"
        if self.node_type is dict:
            return "{" + ", ".join(f"{k!r}: {c._str()}" for k, c in zip(self.aux, self.children)) + "}"
        if self.node_type is type(None):
            return "None"
        return f"{self.node_type.__name__}({inner})"

    def unflatten(self, leaves):
        return tree_unflatten(self, leaves)

    @property
    def num_nodes(self):
        return 1 + sum(c.num_nodes for c in self.children)


def _hashable(aux):
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


LEAF = PyTreeDef(None, None, ())


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None):
    """(leaves, treedef) with leaves in a fixed order (dicts by sorted key)."""
    leaves: list = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def _flatten(x, leaves, is_leaf):
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return LEAF
    node_type, kind = _node_kind(x)
    if kind is None:
        leaves.append(x)
        return LEAF
    children, aux = kind.to_iterable(x)
    subtrees = []
    for c in children:
        if is_leaf is None and type(c) in _leaf_types:
            leaves.append(c)
            subtrees.append(LEAF)
        else:
            subtrees.append(_flatten(c, leaves, is_leaf))
    return PyTreeDef(node_type, aux, tuple(subtrees))


def tree_unflatten(treedef: PyTreeDef, leaves):
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: the structure {treedef} has {treedef.num_leaves} "
                         f"leaves, but {len(leaves)} values were given")
    it = iter(leaves)
    return _unflatten(treedef, it)


def _unflatten(treedef, it):
    if treedef.node_type is None:
        return next(it)
    children = [_unflatten(c, it) for c in treedef.children]
    node_type, kind = treedef.node_type, _registry.get(treedef.node_type)
    if kind is None:  # a namedtuple
        return node_type(*children)
    return kind.from_iterable(treedef.aux, children)


def tree_leaves(tree, is_leaf=None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf=None):
    """Apply `f` leafwise over one or more trees of the same structure."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [flatten_up_to(treedef, r) for r in rest]
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def flatten_up_to(treedef: PyTreeDef, tree) -> list:
    """The subtrees of `tree` at the leaf positions of `treedef` (a prefix of tree's structure)."""
    out: list = []
    _flatten_up_to(treedef, tree, out, "")
    return out


def _flatten_up_to(treedef, tree, out, path):
    if treedef.node_type is None:
        out.append(tree)
        return
    node_type, kind = _node_kind(tree)
    if node_type is not treedef.node_type:
        raise ValueError(f"pytree structure mismatch at {path or 'the root'}: expected "
                         f"{treedef.node_type.__name__}, got {type(tree).__name__}")
    children, aux = kind.to_iterable(tree)
    if aux != treedef.aux or len(children) != len(treedef.children):
        raise ValueError(f"pytree structure mismatch at {path or 'the root'}: expected "
                         f"{treedef}, got {tree_structure(tree)}")
    for i, (c, sub) in enumerate(zip(children, treedef.children)):
        key = treedef.aux[i] if treedef.node_type is dict else i
        _flatten_up_to(sub, c, out, f"{path}[{key!r}]")


def tree_all(tree) -> bool:
    return all(tree_leaves(tree))


def tree_reduce(f: Callable, tree, initializer=None):
    import functools
    leaves = tree_leaves(tree)
    return functools.reduce(f, leaves) if initializer is None else functools.reduce(
        f, leaves, initializer)


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    return treedef.node_type is None


def all_leaves(iterable) -> bool:
    return all(treedef_is_leaf(tree_structure(x)) for x in iterable)


def register_pytree_node_class(cls):
    """Decorator: the class supplies `tree_flatten(self)` and classmethod `tree_unflatten`."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls
