"""`spmd.tree`, as `jax.tree`: the short names over spmd.tree_util's registry, checked against
hand-built expectations (the leaves of a dict come in sorted-key order, as in JAX)."""
import collections
import operator

import numpy as np
import pytest

import spmd
import spmd.tree

TREE = {"b": (1, [2, 3]), "a": 4, "c": None}


def test_flatten_leaves_structure_unflatten_round_trip():
    leaves, treedef = spmd.tree.flatten(TREE)
    assert leaves == [4, 1, 2, 3] == spmd.tree.leaves(TREE)
    assert spmd.tree.structure(TREE) == treedef and treedef.num_leaves == 4
    assert spmd.tree.unflatten(treedef, [40, 10, 20, 30]) == {"a": 40, "b": (10, [20, 30]),
                                                              "c": None}
    with pytest.raises(ValueError, match="has 4 leaves, but 3 values were given"):
        spmd.tree.unflatten(treedef, [1, 2, 3])


def test_is_leaf_stops_flattening():
    assert spmd.tree.leaves(TREE, is_leaf=lambda x: isinstance(x, tuple)) == [4, (1, [2, 3])]


def test_map_over_several_trees_and_prefix_error():
    assert spmd.tree.map(lambda x, y: x * 10 + y, [1, (2, 3)], [4, (5, 6)]) == [14, (25, 36)]
    with pytest.raises(ValueError, match="pytree structure mismatch"):
        spmd.tree.map(operator.add, [1, 2], [1, (2,), 3])


def test_map_under_jit_and_grad():
    params = {"w": np.arange(3, dtype=np.float32), "b": np.float32(2.0)}
    loss = lambda p: sum(spmd.tree.leaves(spmd.tree.map(lambda v: (v ** 2).sum(), p)))  # noqa: E731
    grads = spmd.jit(spmd.grad(loss))(params)
    np.testing.assert_allclose(np.asarray(grads["w"]), 2 * params["w"])
    np.testing.assert_allclose(np.asarray(grads["b"]), 4.0)


def test_reduce_all_and_reduce_associative():
    assert spmd.tree.reduce(operator.add, TREE) == 10
    assert spmd.tree.reduce(operator.add, TREE, 100) == 110
    assert spmd.tree.all([True, (1, [2])]) and not spmd.tree.all({"x": 0, "y": 1})
    assert spmd.tree.all(None)  # no leaves
    order = spmd.tree.reduce_associative(lambda a, b: f"({a}{b})", ["a", "b", "c", "d", "e"])
    assert order == "(((ab)(cd))e)"  # pairwise, left to right: depth log2(n)
    assert spmd.tree.reduce_associative(operator.add, [], identity=0) == 0
    with pytest.raises(ValueError, match="has no leaves; pass identity="):
        spmd.tree.reduce_associative(operator.add, {})


def test_transpose_swaps_outer_and_inner():
    outer, inner = spmd.tree.structure([0, 0]), spmd.tree.structure((0, 0, 0))
    assert spmd.tree.transpose(outer, inner, [(1, 2, 3), (4, 5, 6)]) == ([1, 4], [2, 5], [3, 6])
    assert spmd.tree.transpose(outer, None, [(1, 2, 3), (4, 5, 6)]) == ([1, 4], [2, 5], [3, 6])
    with pytest.raises(TypeError, match="does not have the structure"):
        spmd.tree.transpose(outer, inner, [(1, 2), (4, 5)])


def test_paths():
    Point = collections.namedtuple("Point", "x y")
    tree = {"p": Point(1, [2]), "q": 3}
    paths = [spmd.tree_util.keystr(p) for p, _ in spmd.tree.leaves_with_path(tree)]
    assert paths == ["['p'].x", "['p'].y[0]", "['q']"]
    flat, treedef = spmd.tree.flatten_with_path(tree)
    assert [leaf for _, leaf in flat] == [1, 2, 3] and treedef == spmd.tree.structure(tree)
    named = spmd.tree.map_with_path(lambda p, v, w: (spmd.tree_util.keystr(p), v + w), tree,
                                    {"p": Point(10, [20]), "q": 30})
    assert named == {"p": Point(("['p'].x", 11), [("['p'].y[0]", 22)]), "q": ("['q']", 33)}


def test_broadcast_and_static_fields():
    """jax.tree.broadcast spreads a prefix's leaves over the full tree; jax.tree.static marks a
    dataclass field as static data for register_dataclass (not a leaf, part of the structure)."""
    import dataclasses
    assert spmd.tree.broadcast((1, 2, 3), (0, {"a": 0, "b": 0}, (0, 0))) == \
        (1, {"a": 2, "b": 2}, (3, 3))

    @spmd.tree_util.register_dataclass
    @dataclasses.dataclass
    class Op:
        x: object
        name: str = spmd.tree.static(default="add", metadata={"doc": "kept"})
    op = Op(np.ones(2))
    leaves, tree = spmd.tree.flatten(op)
    assert len(leaves) == 1 and spmd.tree.unflatten(tree, leaves).name == "add"
    assert dataclasses.fields(Op)[1].metadata == {"static": True, "doc": "kept"}
    assert spmd.tree.structure(Op(1.0, "mul")) != spmd.tree.structure(Op(1.0, "add"))

