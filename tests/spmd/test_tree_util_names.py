"""spmd.tree_util's tree_broadcast, tree_reduce_associative, flatten_one_level(_with_keys),
register_static, default_registry and the KeyPath types, against hand-built expectations."""
import operator
import typing

import numpy as np
import pytest

import spmd
from spmd import tree_util


def test_tree_broadcast_repeats_each_prefix_leaf_over_its_subtree():
    out = tree_util.tree_broadcast((1, {"a": 2}), ((3, [4, 5]), {"a": {"x": 6, "y": 7}}))
    assert out == ((1, [1, 1]), {"a": {"x": 2, "y": 2}})
    assert tree_util.tree_broadcast(0, {"a": 1, "b": (2,)}) == {"a": 0, "b": (0,)}
    with pytest.raises(ValueError, match="expected tuple, got list"):
        tree_util.tree_broadcast((1, 2), [3, 4])


def test_tree_reduce_associative_combines_in_a_balanced_tree():
    calls = []

    def record(a, b):
        calls.append((a, b))
        return a + b
    assert tree_util.tree_reduce_associative(record, [[1, 2], (3, 4)]) == 10
    assert calls == [(1, 2), (3, 4), (3, 7)]  # halves first: depth log2(4)
    assert tree_util.tree_reduce_associative(operator.mul, [], identity=1) == 1
    with pytest.raises(TypeError, match="Must specify identity"):
        tree_util.tree_reduce_associative(operator.add, {})


def test_flatten_one_level_gives_children_and_aux_data():
    assert tree_util.flatten_one_level({"b": 1, "a": (2, 3)}) == (((2, 3), 1), ("a", "b"))
    children, aux = tree_util.flatten_one_level_with_keys([7, 8])
    assert list(children) == [(tree_util.SequenceKey(0), 7), (tree_util.SequenceKey(1), 8)]
    with pytest.raises(ValueError, match="can't tree-flatten type: <class 'int'>"):
        tree_util.flatten_one_level(3)
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        tree_util.flatten_one_level_with_keys(np.float32(1))


@tree_util.register_static
class Activation:
    def __init__(self, name):
        self.name = name

    def __hash__(self):
        return hash(self.name)

    def __eq__(self, other):
        return isinstance(other, Activation) and other.name == self.name


def test_register_static_makes_instances_part_of_the_structure():
    assert tree_util.tree_leaves([Activation("relu"), 2.0]) == [2.0]
    traces = []

    @spmd.jit
    def apply(act, x):
        traces.append(act.name)
        return spmd.numpy.tanh(x) if act.name == "tanh" else x * 2
    np.testing.assert_allclose(apply(Activation("tanh"), np.float32(0.5)), np.tanh(0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(apply(Activation("double"), np.float32(0.5)), 1.0)
    apply(Activation("tanh"), np.float32(1.5))
    assert traces == ["tanh", "double"]  # equal static values share one trace


def test_default_registry_and_key_path_types():
    leaves, tree = tree_util.default_registry.flatten({"a": 1, "b": [2]})
    assert leaves == [1, 2] and tree == tree_util.tree_structure({"a": 0, "b": [0]})
    path = tree_util.tree_leaves_with_path({"b": [2]})[0][0]
    assert isinstance(path, tuple) and typing.get_origin(tree_util.KeyPath) is tuple
    assert typing.get_args(tree_util.KeyPath) == (tree_util.KeyEntry, ...)
