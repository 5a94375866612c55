"""transforms/arguments.py: how jit, vmap, pmap, make_jaxpr and grad read a function's arguments.
The same misuse gives the same words from every transform that allows it."""
import collections
import re

import numpy as np
import pytest

import spmd
from spmd.transforms import arguments, tree_util
from spmd.transforms.core import ShapedArray
from tests.oracles import assert_close

X = np.arange(24, dtype=np.float32).reshape(4, 6)
Y = np.ones((2, 6), np.float32)


def two(x, y):
    return x + y


def first(x, y):
    return x


# Each misuse: the error, its words with {t} for the transform's name, and how each transform
# that allows it is misused that way.
MISUSES = [
    ("not callable", TypeError,
     r"{t} expected a callable value, got int: 3\. Pass the function to transform\.",
     {"jit": lambda: spmd.jit(3), "vmap": lambda: spmd.vmap(3), "pmap": lambda: spmd.pmap(3),
      "make_jaxpr": lambda: spmd.make_jaxpr(3), "grad": lambda: spmd.grad(3)}),
    ("unknown keyword", TypeError, r"{t}\(\) got an unexpected keyword argument 'spmd_axes'",
     {"jit": lambda: spmd.jit(two, spmd_axes=1), "vmap": lambda: spmd.vmap(two, spmd_axes=1),
      "pmap": lambda: spmd.pmap(two, spmd_axes=1)}),
    ("static number past the signature", ValueError,
     r"{t} got {static}=\(2,\), but two only accepts 2 positional arguments: argument numbers "
     r"must be in -2\.\.1",
     {"jit": lambda: spmd.jit(two, static_argnums=2),
      "pmap": lambda: spmd.pmap(two, static_broadcasted_argnums=2),
      "make_jaxpr": lambda: spmd.make_jaxpr(two, static_argnums=2)}),
    ("static numbers not ints", TypeError,
     r"{t} {static} must be an int or a sequence of ints, but got {static}='y'",
     {"jit": lambda: spmd.jit(two, static_argnums="y"),
      "pmap": lambda: spmd.pmap(two, static_broadcasted_argnums="y"),
      "make_jaxpr": lambda: spmd.make_jaxpr(two, static_argnums="y")}),
    ("unhashable static argument", ValueError,
     r"{t} static argument 1 \({static}\) of two must be hashable, as it keys the cache of "
     r"compiled programs, but got an unhashable list: \[1\]\. Pass a tuple instead of a list, "
     r"or make the argument non-static\.",
     {"jit": lambda: spmd.jit(two, static_argnums=1)(X, [1]),
      "pmap": lambda: spmd.pmap(two, static_broadcasted_argnums=1)(X, [1]),
      "make_jaxpr": lambda: spmd.make_jaxpr(two, static_argnums=-1)(X, [1])}),
    ("static and donated", ValueError,
     r"{t} {static}=\(1,\) and donate_argnums=\(1,\) cannot intersect: a static argument is a "
     r"Python value, not a buffer to donate",
     {"jit": lambda: spmd.jit(two, static_argnums=1, donate_argnums=1),
      "pmap": lambda: spmd.pmap(two, static_broadcasted_argnums=1, donate_argnums=1)}),
    ("unknown backend", RuntimeError,
     r"{t}: unknown backend: 'tpu' requested, but no platforms that are instances of tpu are "
     r"present\. Platforms present are: cpu\. Pass backend=None or one of those\.",
     {"jit": lambda: spmd.jit(two, backend="tpu"), "pmap": lambda: spmd.pmap(two, backend="tpu")}),
    ("in_axes not a tuple per argument", TypeError,
     r"{t} in_axes must be an int, None, or a tuple of entries corresponding to the positional "
     r"arguments passed to the function, but got in_axes=\{{'x': 0\}}",
     {"vmap": lambda: spmd.vmap(two, in_axes={"x": 0}),
      "pmap": lambda: spmd.pmap(two, in_axes={"x": 0})}),
    ("in_axes leaf not an axis", TypeError,
     r"{t} in_axes must be an int, None, or \(nested\) container with those types as leaves, "
     r"but got in_axes=\(0, 1\.0\)",
     {"vmap": lambda: spmd.vmap(two, in_axes=(0, 1.0)),
      "pmap": lambda: spmd.pmap(two, in_axes=(0, 1.0))}),
    ("out_axes leaf not an axis", TypeError,
     r"{t} out_axes must be an int, None, or \(nested\) container with those types as leaves, "
     r"but got out_axes=True",
     {"vmap": lambda: spmd.vmap(two, out_axes=True),
      "pmap": lambda: spmd.pmap(two, out_axes=True)}),
    ("in_axes of the wrong length", ValueError,
     r"{t} in_axes must be an int, None, or a tuple of entries corresponding to the positional "
     r"arguments passed to the function, but got len\(in_axes\)=1, len\(args\)=2",
     {"vmap": lambda: spmd.vmap(two, in_axes=(0,))(X, X),
      "pmap": lambda: spmd.pmap(two, in_axes=(0,))(X, X)}),
    # (pmap's in_axes paths start with JAX's extra [0]: tests/spmd/test_pmap_errors_jax.py)
    ("in_axes not a prefix", ValueError,
     r"{t} in_axes specification must be a tree prefix of the corresponding value; pytree "
     r"structure error: different lengths of tuple at key path\n    {t} in_axes\[0\]\[0\]\n"
     r"At that key path, the prefix pytree {t} in_axes has a subtree of type tuple of length 2, "
     r"but the full pytree has a subtree of the same type but of length 3\. Make {t} in_axes a "
     r"tree prefix of the tuple of positional arguments \(keyword arguments are always mapped "
     r"along axis 0\)\.",
     {"vmap": lambda: spmd.vmap(first, in_axes=(((0, 0),), None))(((X, X, X),), X)}),
    ("out_axes not a prefix", ValueError,
     r"{t} out_axes specification must be a tree prefix of the corresponding value; pytree "
     r"structure error: different types at key path\n    {t} out_axes\['b'\]\nAt that key "
     r"path, the prefix pytree {t} out_axes has a subtree of type <class 'list'>, but at the "
     r"same key path the full pytree has a leaf \(PyTreeDef\(\*\)\)\. Make {t} out_axes a "
     r"tree prefix of the function's output\.",
     {"vmap": lambda: spmd.vmap(lambda x: {"a": x, "b": x}, out_axes={"a": 0, "b": [0]})(X),
      "pmap": lambda: spmd.pmap(lambda x: {"a": x, "b": x}, out_axes={"a": 0, "b": [0]})(X)}),
    ("axis past the rank", ValueError,
     r"{t} was requested to map argument 1 \(y\)\['w'\] along axis -3, which implies that its "
     r"rank should be at least 3, but it is only 2 \(its shape is \(4, 6\)\)\. Give it an "
     r"in_axes entry of None to pass it unmapped, or an axis it has\.",
     {"vmap": lambda: spmd.vmap(two, in_axes=(0, {"w": -3}))(X, {"w": X}),
      "pmap": lambda: spmd.pmap(two, in_axes=(0, {"w": -3}))(X, {"w": X})}),
    ("out_axes past the rank", ValueError,
     r"{t} out_axes=2 is out of range for output 0: the function returns rank 1 there, so the "
     r"mapped output has 2 axes \(valid out_axes: -2 to 1\)",
     {"vmap": lambda: spmd.vmap(lambda x: x, out_axes=2)(X),
      "pmap": lambda: spmd.pmap(lambda x: x, out_axes=2)(X)}),
    ("inconsistent sizes", ValueError,
     r"{t} got inconsistent sizes for array axes to be mapped:\n  \* one axis had size 4: axis 0 "
     r"of argument 0 \(x\) of type f32\[4,6\];\n  \* one axis had size 2: axis 0 of keyword "
     r"argument 'y' of type f32\[2,6\]\. Every mapped argument must have the same size along its "
     r"in_axes\.",
     {"vmap": lambda: spmd.vmap(two)(X, y=Y), "pmap": lambda: spmd.pmap(two)(X, y=Y)}),
    ("nothing mapped", ValueError,
     r"{t} must have at least one non-None value in in_axes, or be given axis_size",
     {"vmap": lambda: spmd.vmap(two, in_axes=None)(X, X),
      "pmap": lambda: spmd.pmap(two, in_axes=None)(X, X)}),
    ("axis_size disagrees", ValueError,
     r"{t} got axis_size=3 but the mapped inputs have size 4 along the mapped axis; leave "
     r"axis_size out or make them agree",
     {"vmap": lambda: spmd.vmap(two, axis_size=3)(X, X),
      "pmap": lambda: spmd.pmap(two, axis_size=3)(X, X)}),
]


def _normalized(message: str, transform: str) -> str:
    return message.replace(transform, "{t}").replace("static_broadcasted_argnums",
                                                     "static_argnums")


@pytest.mark.parametrize("error,words,calls", [m[1:] for m in MISUSES], ids=[m[0] for m in MISUSES])
def test_every_transform_says_the_same_words_for_the_same_misuse(error, words, calls):
    messages = {}
    for t, call in calls.items():
        static = "static_broadcasted_argnums" if t == "pmap" else "static_argnums"
        with pytest.raises(error, match=words.format(t=re.escape(t), static=static)) as info:
            call()
        messages[t] = _normalized(str(info.value), t)
    assert len(set(messages.values())) == 1, messages


# ---------------------------------------------------------------- argnums and argnames
def f_pos_kw(a, b, /, c, d=1, *, e=2):
    return a


def test_numbers_and_names_follow_each_other_through_the_signature():
    got = arguments.resolve_argnums(f_pos_kw, "jit", static_argnums=(2, -1))
    assert got == arguments.Argnums((2, -1), ("c", "d"), (), ())
    got = arguments.resolve_argnums(f_pos_kw, "jit", static_argnames=("e", "d"),
                                    donate_argnums=0)
    # keyword-only e has no number; positional-only a has no name
    assert got == arguments.Argnums((3,), ("e", "d"), (0,), ())
    # both given: taken as they are, as in JAX
    got = arguments.resolve_argnums(f_pos_kw, "jit", static_argnums=2, static_argnames="e")
    assert got == arguments.Argnums((2,), ("e",), (), ())


def test_argname_errors():
    with pytest.raises(ValueError, match=r"jit got static_argnames \['a'\], but these parameters "
                                         r"of f_pos_kw are positional-only"):
        arguments.resolve_argnums(f_pos_kw, "jit", static_argnames="a")
    with pytest.raises(ValueError, match=r"jit got donate_argnames \['z'\], but f_pos_kw does "
                                         r"not take arguments of these names \(it takes "
                                         r"\['a', 'b', 'c', 'd', 'e'\]\)"):
        arguments.resolve_argnums(f_pos_kw, "jit", donate_argnames="z")
    with pytest.raises(TypeError, match="jit static_argnames must be a str or a sequence of strs"):
        arguments.resolve_argnums(f_pos_kw, "jit", static_argnames=(1,))
    # *args and **kwargs take any number and any name
    arguments.resolve_argnums(lambda *a, **k: 0, "jit", static_argnums=7, static_argnames="q")


def test_split_static_and_merge_back():
    split = arguments.split_static((1, "a", 3.0), {"k": 2, "m": (4,)}, (-2,), ("m",), "jit")
    assert split.static == ((1, "a"),) and split.static_kw == (("m", (4,)),)
    assert split.dyn_args == (1, 3.0) and split.dyn_kwargs == {"k": 2}
    assert split.dyn_positions == (0, 2)
    assert arguments.merge_static(split.static, split.dyn_args, 3) == [1, "a", 3.0]
    # a static number past the call's arguments (a parameter left at its default) is ignored
    assert arguments.split_static((1,), {}, (3,), (), "jit").dyn_args == (1,)


def test_donated_leaves_by_number_and_by_name():
    argnums = arguments.Argnums(donate_nums=(-1,), donate_names=("k",))
    split = arguments.split_static(((1, 2), 3, 4), {"k": [5, 6], "m": 7}, (1,), (), "jit")
    _, in_tree = tree_util.tree_flatten((split.dyn_args, split.dyn_kwargs))
    flags = arguments.donated_leaves(in_tree, split.dyn_positions, 3, argnums)
    assert flags == [False, False, True, True, True, False]


def test_derivative_argnums():
    assert arguments.argnums_tuple((0, -1), 3) == (0, 2)
    with pytest.raises(ValueError, match=r"argnums=\(0, 3\) requires at least 4 positional "
                                         r"arguments to be passed by the caller, but got only 2"):
        arguments.argnums_tuple((0, 3), 2)
    with pytest.raises(TypeError, match=r"argnums must be an int or a non-empty tuple of ints, "
                                        r"got \(\)"):
        arguments.argnums_tuple((), 2)


# ---------------------------------------------------------------- in_axes per leaf
def test_in_axes_per_leaf_broadcasts_prefixes_and_maps_keywords_on_axis_0():
    spec = arguments.axes_spec([{"w": None, "b": 1}, None, -1], "in_axes", "pmap",
                               per_argument=True)
    args = ({"w": 1, "b": 2}, "static", (3, 4))
    split = arguments.split_static(args, {"k": 5}, (1,), (), "pmap")
    _, in_tree = tree_util.tree_flatten((split.dyn_args, split.dyn_kwargs))
    dims = arguments.in_axes_per_leaf(spec.key, in_tree, split.dyn_positions, 3, "pmap")
    assert dims == (1, None, -1, -1, 0)  # b, w (dict keys sorted), the tuple's two, k
    labels = arguments.leaf_labels(in_tree, split.dyn_positions, ["p", "n", "xs"])
    assert labels == ["argument 0 (p)['b']", "argument 0 (p)['w']", "argument 2 (xs)[0]",
                      "argument 2 (xs)[1]", "keyword argument 'k'"]


def test_labels_name_namedtuple_fields_and_nested_keys():
    Pair = collections.namedtuple("Pair", "w b")
    _, in_tree = tree_util.tree_flatten(((Pair(1, {"z": 2}),), {}))
    assert arguments.leaf_labels(in_tree, (0,), []) == ["argument 0.w", "argument 0.b['z']"]


def test_mapped_size_and_canonical_axes():
    avals = [ShapedArray((2, 5), np.float32), ShapedArray((5,), np.float32),
             ShapedArray((), np.float32)]
    dims = arguments.canonical_in_axes([-1, 0, None], avals, list, "vmap")
    assert dims == [1, 0, None]
    assert arguments.mapped_size(avals, dims, list, None, "vmap") == 5
    assert arguments.mapped_size(avals[2:], [None], list, 7, "vmap") == 7
    assert arguments.canonical_out_axis(-1, 2, 0, "vmap") == 2


# ---------------------------------------------------------------- the transforms use it
def test_negative_static_argnums_in_make_jaxpr_and_pmap():
    text = str(spmd.make_jaxpr(lambda x, n: x * n, static_argnums=-1)(np.ones(3, np.float32), 4))
    assert "mul" in text and "4" in text
    by_name = str(spmd.make_jaxpr(lambda x, n: x * n, static_argnums=1)(np.ones(3, np.float32),
                                                                          n=4))
    assert by_name == text  # n by name is static too (its name follows from its number)
    out = spmd.pmap(lambda x, n: x * n, static_broadcasted_argnums=-1)(X, 3)
    assert_close(out, X * 3)
