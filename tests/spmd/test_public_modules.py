"""Every module a JAX user imports is a real module under its public name, and its errors name
that public module, never spmd's internal layers."""
import importlib

import ml_dtypes
import numpy as np
import pytest

import spmd

DISTRIBUTIONS = ["bernoulli", "beta", "betabinom", "binom", "cauchy", "chi2", "dirichlet",
                 "expon", "gamma", "gennorm", "geom", "gumbel_l", "gumbel_r", "laplace",
                 "logistic", "multinomial", "multivariate_normal", "nbinom", "norm", "pareto",
                 "poisson", "t", "truncnorm", "uniform", "vonmises", "wrapcauchy"]
PUBLIC = ["spmd.tree_util", "spmd.numpy", "spmd.lax", "spmd.lax.linalg", "spmd.random", "spmd.nn",
          "spmd.nn.initializers", "spmd.scipy", "spmd.scipy.special", "spmd.scipy.stats",
          "spmd.dtypes", "spmd.distributed", "spmd.test_util", "spmd.tree", "spmd.debug",
          "spmd.flatten_util",
          "spmd.numpy.linalg", "spmd.numpy.fft", "spmd.scipy.linalg", "spmd.sharding",
          "spmd.example_libraries", "spmd.example_libraries.stax",
          "spmd.example_libraries.optimizers", "spmd.errors", "spmd.stages", "spmd.image",
          "spmd.experimental", "spmd.experimental.shard_map",
          "spmd.experimental.multihost_utils", "spmd.custom_batching",
          "spmd.custom_derivatives", "spmd.dlpack", "spmd.typing"] + [
    f"spmd.scipy.stats.{d}" for d in DISTRIBUTIONS]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_module_imports_as_a_module_and_is_the_attribute(name):
    module = importlib.import_module(name)
    assert module.__name__ == name
    parent, _, leaf = name.rpartition(".")
    assert getattr(importlib.import_module(parent), leaf) is module


@pytest.mark.parametrize("name", PUBLIC)
def test_missing_names_are_reported_under_the_public_module(name):
    module = importlib.import_module(name)
    with pytest.raises(AttributeError, match=f"module '{name}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_tree_util_module_is_the_one_the_transforms_use():
    from spmd.tree_util import tree_flatten, tree_unflatten
    leaves, tree = tree_flatten({"b": (1, None, [2.0]), "a": 3})
    assert leaves == [3, 1, 2.0]  # dict keys sorted, None an empty node, as in JAX
    assert tree_unflatten(tree, [30, 10, 20.0]) == {"a": 30, "b": (10, None, [20.0])}
    out = spmd.jit(lambda t: spmd.tree_util.tree_map(lambda v: v * 2, t))(
        {"w": np.ones(2, np.float32)})
    np.testing.assert_array_equal(np.asarray(out["w"]), 2 * np.ones(2))


FLOATS = (np.floating, np.inexact, np.number, np.generic)
OTHERS = (np.integer, np.signedinteger, np.unsignedinteger, np.complexfloating, np.bool_)


@pytest.mark.parametrize("dtype", [np.int8, np.uint32, np.float16, np.float32, np.complex64,
                                   np.bool_])
@pytest.mark.parametrize("category", FLOATS + OTHERS + (np.float32, np.int8))
def test_issubdtype_agrees_with_numpy_on_numpys_types(dtype, category):
    assert spmd.dtypes.issubdtype(dtype, category) == np.issubdtype(dtype, category)


def test_issubdtype_places_bfloat16_among_the_floats_as_jax_does():
    bf16 = spmd.dtypes.bfloat16
    assert all(spmd.dtypes.issubdtype(bf16, c) for c in FLOATS)
    assert not any(spmd.dtypes.issubdtype(bf16, c) for c in OTHERS + (np.float32, np.float16))
    assert (spmd.dtypes.issubdtype(bf16, ml_dtypes.bfloat16)
            and spmd.dtypes.issubdtype(bf16, "bfloat16"))
    assert not np.issubdtype(bf16, np.floating)  # why spmd needs its own: NumPy files it under void


def test_canonicalize_dtype_follows_x64(x64):
    assert spmd.dtypes.canonicalize_dtype(np.float64) == np.float64


def test_canonicalize_dtype_narrows_without_x64():
    assert spmd.dtypes.canonicalize_dtype(np.float64) == np.float32
    assert spmd.dtypes.canonicalize_dtype(np.int64) == np.int32
    assert spmd.dtypes.canonicalize_dtype(spmd.dtypes.bfloat16) == spmd.dtypes.bfloat16
    with pytest.raises(TypeError, match="not supported by spmd's XLA backend"):
        spmd.dtypes.canonicalize_dtype(np.dtype("U3"))


def test_weak_types_and_float0():
    assert spmd.dtypes.is_weakly_typed(2.0) and not spmd.dtypes.is_weakly_typed(np.float32(2.0))
    assert not spmd.dtypes.is_weakly_typed(spmd.numpy.ones(3))
    assert spmd.dtypes.float0.itemsize == 0
    grads = spmd.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert np.asarray(grads[1]).dtype == spmd.dtypes.float0
    assert spmd.dtypes.result_type(np.ones(2, np.int8), 1.0) == np.float32


@pytest.mark.parametrize("a, b", [(np.int8, np.uint8), (np.int16, np.int32),
                                  (np.float32, np.float64), ("int32", np.complex64),
                                  (np.dtype(np.uint8), np.bool_)])
def test_result_type_of_dtypes_follows_jax_lattice_where_numpy_agrees(a, b):
    # these pairs promote alike in NumPy and in JAX (64-bit results narrow without x64)
    expected = spmd.dtypes.canonicalize_dtype(np.result_type(a, b))
    assert spmd.numpy.result_type(a, b) == expected


def test_result_type_python_types_are_weak_and_bfloat16_joins_the_floats():
    assert spmd.numpy.result_type(np.float16, float) == np.float16  # weak: float16 wins
    assert spmd.numpy.result_type(np.int8, int) == np.int8
    assert spmd.numpy.result_type(spmd.dtypes.bfloat16, np.float16) == np.float32  # JAX's lattice
    assert spmd.numpy.result_type(np.ones(2, np.int8), 1.0) == np.float32
    assert spmd.numpy.result_type(np.int16, np.float16) == np.float16  # JAX: ints join below floats
