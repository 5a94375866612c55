"""spmd.tree_util (jaxlib's C++ pytrees underneath) against hand-written expectations: leaf
orders, key paths, structures and the error texts."""
import collections
import dataclasses
import operator
import pickle

import numpy as np
import pytest

import spmd
import spmd.numpy as snp
from spmd import tree_util
DictKey, SequenceKey = tree_util.DictKey, tree_util.SequenceKey
GetAttrKey, FlattenedIndexKey = tree_util.GetAttrKey, tree_util.FlattenedIndexKey

Point = collections.namedtuple("Point", "x y")


class Pair:
    """A custom node without keys: its children are named by position in key paths."""

    def __init__(self, a, b, tag="pair"):
        self.a, self.b, self.tag = a, b, tag

    def __eq__(self, other):
        return isinstance(other, Pair) and (self.a, self.b, self.tag) == (other.a, other.b,
                                                                           other.tag)


tree_util.register_pytree_node(Pair, lambda p: ((p.a, p.b), p.tag),
                               lambda tag, c: Pair(*c, tag=tag))


class Named:
    """A custom node with keys."""

    def __init__(self, w, b):
        self.w, self.b = w, b


tree_util.register_pytree_with_keys(
    Named, lambda n: ([(GetAttrKey("w"), n.w), (GetAttrKey("b"), n.b)], None),
    lambda _, c: Named(*c))


@tree_util.register_pytree_node_class
class Scaled:
    def __init__(self, value, scale):
        self.value, self.scale = value, scale

    def tree_flatten(self):
        return (self.value,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)


@dataclasses.dataclass
class Layer:
    w: object
    b: object
    name: str = dataclasses.field(default="dense", metadata={"static": True})


tree_util.register_dataclass(Layer)

# (tree, its leaves in order, their key paths as keystr prints them)
CASES = [
    ((1, 2.0), [1, 2.0], ["[0]", "[1]"]),
    ([1, [2, (3,)]], [1, 2, 3], ["[0]", "[1][0]", "[1][1][0]"]),
    ({"b": 1, "a": (2, None), "c": 3}, [2, 1, 3], ["['a'][0]", "['b']", "['c']"]),
    (Point(1, {"z": 2}), [1, 2], [".x", ".y['z']"]),
    (None, [], []),
    (3, [3], [""]),
    ([None, 4, ()], [4], ["[1]"]),
    (collections.OrderedDict([("b", 1), ("a", 2)]), [1, 2], ["['b']", "['a']"]),
    (Pair(5, [6]), [5, 6], ["[<flat index 0>]", "[<flat index 1>][0]"]),
    (Layer(7, 8), [7, 8], [".w", ".b"]),
]


@pytest.mark.parametrize("tree,leaves,paths", CASES,
                         ids=[type(c[0]).__name__ + str(i) for i, c in enumerate(CASES)])
def test_leaves_paths_and_roundtrip(tree, leaves, paths):
    got_leaves, treedef = tree_util.tree_flatten(tree)
    assert got_leaves == leaves
    assert treedef.num_leaves == len(leaves)
    back = tree_util.tree_unflatten(treedef, got_leaves)
    assert type(back) is type(tree) and tree_util.tree_structure(back) == treedef
    with_path, treedef2 = tree_util.tree_flatten_with_path(tree)
    assert treedef2 == treedef
    assert [leaf for _, leaf in with_path] == leaves
    assert [tree_util.keystr(p) for p, _ in with_path] == paths


def test_key_types_and_simple_keystr():
    [(path, leaf)] = tree_util.tree_leaves_with_path({"a": [0, Point(1, 2)]})[1:2]
    assert path == (DictKey("a"), SequenceKey(1), GetAttrKey("x")) and leaf == 1
    assert tree_util.keystr(path, simple=True, separator="/") == "a/1/x"
    [(path, _), _] = tree_util.tree_leaves_with_path(Pair(1, 2))
    assert path == (FlattenedIndexKey(0),)
    assert [tree_util.keystr(p) for p, _ in tree_util.tree_leaves_with_path(Named(1, 2))] == [
        ".w", ".b"]


def test_none_is_an_empty_node_unless_is_leaf_says_so():
    assert tree_util.tree_leaves([None, 1, None]) == [1]
    treedef = tree_util.tree_structure(None)
    assert treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert tree_util.treedef_is_leaf(treedef)  # as in jax: one node
    assert not tree_util.treedef_is_strict_leaf(treedef)
    assert tree_util.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def test_dicts_flatten_by_sorted_key_and_keep_keys():
    tree = {"b": 1, "a": 2, "c": 3}
    assert tree_util.tree_leaves(tree) == [2, 1, 3]
    assert tree_util.tree_map(lambda v: v * 10, tree) == {"a": 20, "b": 10, "c": 30}
    assert tree_util.tree_structure({"a": 1, "b": 2}) == tree_util.tree_structure({"b": 0, "a": 0})


def test_defaultdict_keeps_its_factory():
    d = collections.defaultdict(list, {"y": 1, "x": 2})
    back = tree_util.tree_map(lambda v: v + 1, d)
    assert type(back) is collections.defaultdict and back.default_factory is list
    assert dict(back) == {"x": 3, "y": 2}


def test_namedtuples_and_custom_nodes_are_distinct_structures():
    assert tree_util.tree_structure(Point(1, 2)) != tree_util.tree_structure((1, 2))
    assert tree_util.tree_structure(Pair(1, 2)) != tree_util.tree_structure(Pair(1, 2, tag="x"))
    assert tree_util.tree_structure(Pair(1, 2)) == tree_util.tree_structure(Pair(3, 4))
    assert tree_util.tree_map(lambda v: v * 2, Point(1, 2)) == Point(2, 4)
    out = tree_util.tree_map(operator.add, Scaled(1, 3), Scaled(10, 3))
    assert (out.value, out.scale) == (11, 3)
    layer = tree_util.tree_map(lambda v: v + 1, Layer(1, 2, name="out"))
    assert layer == Layer(2, 3, name="out")


def test_treedefs_are_cache_keys_and_pickle():
    a = tree_util.tree_structure({"w": [1, 2], "p": Point(3, None)})
    b = tree_util.tree_structure({"w": [5, 6], "p": Point(7, None)})
    assert a == b and hash(a) == hash(b) and {a: "x"}[b] == "x"
    assert a != tree_util.tree_structure({"w": [5, 6], "p": Point(7, 8)})
    back = pickle.loads(pickle.dumps(a))
    assert back == a and back.unflatten([1, 2, 3]) == {"w": [2, 3], "p": Point(1, None)}


def test_children_tuple_and_all_leaves():
    treedef = tree_util.tree_structure([(1, 2), 3, {"a": 4}])
    children = tree_util.treedef_children(treedef)
    assert children == [tree_util.tree_structure(v) for v in [(1, 2), 3, {"a": 4}]]
    assert tree_util.treedef_tuple(children) == tree_util.tree_structure(((1, 2), 3, {"a": 4}))
    assert tree_util.all_leaves([1, np.ones(2)]) and not tree_util.all_leaves([1, (2,)])
    assert not tree_util.all_leaves([None])


def test_map_with_path_transpose_reduce():
    out = tree_util.tree_map_with_path(lambda p, v, w: (tree_util.keystr(p), v + w),
                                       {"a": 1, "b": [2]}, {"a": 10, "b": [20]})
    assert out == {"a": ("['a']", 11), "b": [("['b'][0]", 22)]}
    outer, inner = tree_util.tree_structure([0, 0]), tree_util.tree_structure((0, 0, 0))
    assert tree_util.tree_transpose(outer, inner, [(1, 2, 3), (4, 5, 6)]) == (
        [1, 4], [2, 5], [3, 6])
    assert tree_util.tree_reduce(operator.add, [1, (2, 3)]) == 6
    assert tree_util.tree_reduce(operator.add, [1, (2, 3)], 10) == 16
    assert tree_util.tree_all([True, (1, None)]) and not tree_util.tree_all([True, (0,)])


def test_tree_map_passes_subtrees_at_the_first_trees_leaves():
    assert tree_util.tree_map(lambda s, t: (s, t), [1, 2], [(3, 4), {"a": 5}]) == [
        (1, (3, 4)), (2, {"a": 5})]


@pytest.mark.parametrize("first,second,where", [
    ((1, 2), [1, 2], r"at the root: expected tuple, got list"),
    ({"a": (1, 2)}, {"a": (1, 2, 3)}, r"at \['a'\]: expected PyTreeDef\(\(\*, \*\)\)"),
    ({"a": 1}, {"b": 1}, r"at the root: expected PyTreeDef\(\{'a': \*\}\)"),
    ([1, {"x": None}], [1, {"x": 3}], r"at \[1\]\['x'\]: expected NoneType, got int"),
    (Point(1, 2), (1, 2), r"at the root: expected Point, got tuple"),
])
def test_structure_mismatch_errors_say_where(first, second, where):
    with pytest.raises(ValueError, match="pytree structure mismatch " + where):
        tree_util.tree_map(lambda a, b: a, first, second)


def test_unflatten_with_wrong_leaf_count():
    with pytest.raises(ValueError, match=r"structure PyTreeDef\(\(\*, \*\)\) has 2 leaves, but 3"):
        tree_util.tree_unflatten(tree_util.tree_structure((1, 2)), [1, 2, 3])


def test_registering_a_type_twice_is_refused():
    with pytest.raises(ValueError, match="Duplicate custom PyTreeDef type registration"):
        tree_util.register_pytree_node(Pair, lambda p: ((), None), lambda _, c: Pair(0, 0))


def test_register_dataclass_errors():
    @dataclasses.dataclass
    class Two:
        a: int
        b: int

    with pytest.raises(ValueError, match=r"fields with init=True, \['a', 'b'\], but are \['a'\]"):
        tree_util.register_dataclass(Two, data_fields=["a"], meta_fields=[])
    with pytest.raises(TypeError, match="give both data_fields and meta_fields"):
        tree_util.register_dataclass(Two, data_fields=["a", "b"])


def test_partial_goes_through_jit_with_its_arguments_as_leaves():
    y = np.arange(3, dtype=np.float32)
    add_y = tree_util.Partial(snp.add, snp.asarray(y))
    assert len(tree_util.tree_leaves(add_y)) == 1
    out = spmd.jit(lambda f, x: f(x))(add_y, snp.asarray(np.ones(3, np.float32)))
    np.testing.assert_array_equal(np.asarray(out), y + 1)


def test_jit_caches_by_structure_across_calls():
    traces = []

    @spmd.jit
    def f(tree):
        traces.append(1)
        return tree["a"] + tree["b"][0]

    x = snp.asarray(np.ones(2, np.float32))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(f({"b": [x], "a": x})), np.full(2, 2.0))
    assert len(traces) == 1
    np.testing.assert_array_equal(np.asarray(f({"b": (x,), "a": x})), np.full(2, 2.0))
    assert len(traces) == 2  # a tuple is another structure
