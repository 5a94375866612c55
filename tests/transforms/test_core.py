"""The core: abstract values, dtype promotion, the program printer, pytrees, spmd.Array."""
import collections
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close
from spmd.transforms import core, dtypes, tree_util


# ---------------------------------------------------------------- promotion
PROMOTIONS = [  # (a, a weak, b, b weak) -> (dtype, weak), JAX's table
    ((np.int32, False), (np.float32, True), (np.float32, True)),
    ((np.uint8, False), (np.int8, False), (np.int16, False)),
    ((np.int32, True), (np.bool_, False), (np.int32, True)),
    ((np.float16, False), (dtypes.bfloat16, False), (np.float32, False)),
    ((np.int32, False), (np.float16, False), (np.float16, False)),
    ((np.float16, False), (np.float32, True), (np.float16, False)),
    ((np.int8, False), (np.int32, True), (np.int8, False)),
    ((np.bool_, False), (np.bool_, False), (np.bool_, False)),
    ((np.float32, False), (np.complex64, True), (np.complex64, False)),
    ((np.uint32, False), (np.int32, False), (np.int32, False)),  # int64 narrowed without x64
]


@pytest.mark.parametrize("a,b,expected", PROMOTIONS)
def test_promotion_table(a, b, expected):
    got = dtypes.result_type(a, b)
    assert (got[0], got[1]) == (np.dtype(expected[0]), expected[1])
    assert dtypes.result_type(b, a) == got  # symmetric


def test_promotion_under_x64(x64):
    assert dtypes.result_type((np.uint32, False), (np.int32, False)) == (np.dtype(np.int64), False)
    assert dtypes.result_type((np.int64, False), (np.float32, True))[0] == np.float64


def test_float64_input_narrows_without_x64():
    x = jnp.asarray(np.arange(3, dtype=np.float64))
    assert x.dtype == np.float32
    assert jnp.asarray(np.arange(3, dtype=np.int64)).dtype == np.int32


def test_x64_keeps_float64(x64):
    x = jnp.asarray(np.arange(3, dtype=np.float64))
    assert x.dtype == np.float64
    assert_close(x * 2, np.arange(3, dtype=np.float64) * 2)


def test_weak_scalars_follow_the_array():
    x = jnp.ones(3, jnp.float16)
    assert (x * 2.0).dtype == np.float16
    assert (jnp.ones(3, jnp.int32) + 1.5).dtype == np.float32
    y = spmd.jit(lambda a: a + 1)(2.0)
    assert y.dtype == np.float32 and y.weak_type


# ---------------------------------------------------------------- the printer
def test_make_jaxpr_prints_the_program():
    def f(x, y):
        return jnp.sin(x) * y + 1.0
    text = str(spmd.make_jaxpr(f)(np.ones(3, np.float32), np.ones(3, np.float32)))
    assert text.startswith("{ lambda ")
    for op in ("sin", "mul", "add", "f32[3]"):
        assert op in text
    assert text.rstrip().endswith("}")


def test_make_jaxpr_of_grad_shows_the_backward_ops():
    jaxpr = spmd.make_jaxpr(spmd.grad(lambda x: jnp.sin(x) * x))(1.0)
    names = [e.prim.name for e in jaxpr.jaxpr.eqns]
    assert "sin" in names and "cos" in names


def test_eval_jaxpr_reproduces_the_function():
    f = lambda x: jnp.tanh(x) * 3.0 - x  # noqa: E731
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    closed = spmd.make_jaxpr(f)(x)
    assert_close(core.eval_jaxpr(closed.jaxpr, closed.consts, x)[0], np.tanh(x) * 3 - x)


# ---------------------------------------------------------------- pytrees
Point = collections.namedtuple("Point", "x y")


class Box:
    def __init__(self, a, b):
        self.a, self.b = a, b


tree_util.register_pytree_node(Box, lambda b: ((b.a, b.b), "box"), lambda aux, c: Box(*c))

TREES = [
    (1, 2.0),
    [1, [2, (3,)]],
    {"b": 1, "a": (2, None)},
    Point(1, {"z": 2}),
    None,
    3,
]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_flatten_unflatten_roundtrip(tree):
    leaves, treedef = tree_util.tree_flatten(tree)
    assert tree_util.tree_unflatten(treedef, leaves) == tree
    assert treedef.num_leaves == len(leaves)


def test_dict_leaves_in_sorted_key_order():
    assert tree_util.tree_leaves({"b": 1, "a": 2, "c": 3}) == [2, 1, 3]


def test_none_is_an_empty_node():
    assert tree_util.tree_leaves([None, 1, None]) == [1]


def test_tree_map_multi_tree_and_registered_node():
    out = tree_util.tree_map(lambda a, b: a + b, Box(1, [2]), Box(10, [20]))
    assert isinstance(out, Box) and (out.a, out.b) == (11, [22])
    assert tree_util.tree_structure(Box(1, 2)) != tree_util.tree_structure((1, 2))


def test_tree_map_structure_mismatch_error():
    with pytest.raises(ValueError, match="structure mismatch"):
        tree_util.tree_map(lambda a, b: a, (1, 2), [1, 2])


def test_unflatten_wrong_leaf_count_error():
    treedef = tree_util.tree_structure((1, 2))
    with pytest.raises(ValueError, match="has 2 leaves, but 3"):
        tree_util.tree_unflatten(treedef, [1, 2, 3])


# ---------------------------------------------------------------- spmd.Array
def test_array_attributes_and_conversions():
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = jnp.asarray(host)
    assert (x.shape, x.dtype, x.ndim, x.size) == ((2, 3), np.float32, 2, 6)
    np.testing.assert_array_equal(np.asarray(x), host)
    assert x.block_until_ready() is x
    s = jnp.asarray(np.float32(2.5))
    assert float(s) == 2.5 and int(s) == 2 and bool(s) and s.item() == 2.5
    assert len(x) == 2 and [np.asarray(r).tolist() for r in x] == host.tolist()
    assert repr(jnp.asarray(np.array([1.0, 2.0], np.float32))) == \
        "Array([1., 2.], dtype=float32)"
    assert "weak_type=True" in repr(jnp.asarray(1.0) * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float16, np.complex64, np.bool_])
def test_array_byte_sizes_and_device_as_numpy_and_jax(dtype):
    host = np.zeros((2, 3), dtype)
    x = jnp.asarray(host)
    assert (x.itemsize, x.nbytes) == (host.itemsize, host.nbytes)
    traced = spmd.jit(lambda a: np.int32(a.nbytes + a.itemsize) + 0 * a.size)(x)
    assert int(traced) == host.nbytes + host.itemsize  # known while tracing, as shapes are
    assert x.device == spmd.devices()[0] and x.devices() == {x.device}


def test_device_of_an_array_on_several_devices_is_its_sharding():
    stacked = spmd.pmap(lambda a: a * 2)(jnp.arange(4.0))
    assert stacked.device == stacked.sharding and len(stacked.device.device_set) == 4
    replicated = spmd.pmap(lambda a: spmd.lax.psum(a, "i"), out_axes=None, axis_name="i")(
        jnp.ones(4))
    assert replicated.is_fully_replicated and not stacked.is_fully_replicated
    assert jnp.ones(2).is_fully_replicated  # one device holds all of it


def test_array_is_read_only_and_unhashable():
    x = jnp.asarray(np.ones(2, np.float32))
    with pytest.raises(ValueError):
        np.asarray(x)[0] = 3
    with pytest.raises(TypeError, match="not hashable"):
        hash(x)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_, np.uint8, np.float16,
                                   dtypes.bfloat16, np.complex64])
def test_array_roundtrip_dtypes(dtype, poisoned_jax):
    host = (np.arange(6) % 3).astype(dtype).reshape(3, 2)
    x = jnp.asarray(host)
    assert x.dtype == dtype
    np.testing.assert_array_equal(np.asarray(x).astype(np.complex64), host.astype(np.complex64))


def test_unsupported_python_object():
    with pytest.raises(TypeError, match="not a valid array"):
        core.get_aval(object())


def test_missing_rule_names_primitive_and_transform():
    p = core.Primitive("mystery")
    p.def_abstract_eval(lambda x: x)
    try:
        with pytest.raises(core.MissingRuleError, match="'mystery' has no differentiation"):
            spmd.grad(lambda x: p.bind(x))(1.0)
        with pytest.raises(core.MissingRuleError, match="'mystery' has no batching"):
            spmd.vmap(lambda x: p.bind(x))(np.ones(2, np.float32))
        with pytest.raises(core.MissingRuleError, match="'mystery' has no lowering"):
            p.bind(np.float32(1))
    finally:  # the rule-coverage test walks every registered primitive
        del core.abstract_eval_rules[p]


def test_jax_never_imported(poisoned_jax):
    """A fresh process imports spmd, runs jit, grad, vmap and a pmap with a collective, and
    fetches their results every way; the poisoned jax package first on its path records any
    attempt to import jax (jaxlib swallows the ImportError, so the log is what tells)."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import spmd
        import spmd.numpy as jnp
        from spmd import lax
        from spmd.data import unreplicate
        x = np.arange(8.0, dtype=np.float32).reshape(8, 1)
        grad = spmd.jit(spmd.grad(lambda w: jnp.sum(jnp.sin(w * x))))(np.float32(0.5))
        np.testing.assert_allclose(float(grad), np.sum(x * np.cos(0.5 * x)), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(spmd.vmap(jnp.cos)(x)), np.cos(x), rtol=1e-6)
        out = spmd.pmap(lambda r: lax.psum(r, "i") * r, axis_name="i")(x)
        np.testing.assert_array_equal(np.asarray(out[3]), x.sum() * x[3])
        np.testing.assert_array_equal(unreplicate(out), x.sum() * x[0])
        np.testing.assert_array_equal(np.asarray(out), x.sum() * x)
        assert "jax" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    attempts = poisoned_jax.attempts()
    assert not attempts, f"{len(attempts)} attempt(s) to import jax, the first:\n{attempts[0]}"
