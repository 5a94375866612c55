"""disable_jit, ensure_compile_time_eval and named_scope, as JAX's: what runs when, checked by
the types the Python sees and against NumPy values."""
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.transforms import scopes


def test_disable_jit_runs_the_python_eagerly_and_restores_jit():
    seen = []

    @spmd.jit
    def f(x):
        seen.append(type(x).__name__)
        return x * 2
    x = np.arange(3, dtype=np.float32)
    f(x)
    with spmd.disable_jit():
        np.testing.assert_array_equal(np.asarray(f(x)), 2 * x)
        f(x)
        with spmd.disable_jit(False):
            f(x)
            f(x)  # traced once: the second call hits the cache
    f(x)
    assert seen == ["StagingTracer", "ndarray", "ndarray"]
    assert not spmd.config.disable_jit


def test_ensure_compile_time_eval_gives_concrete_values_under_jit():
    @spmd.jit
    def f(x):
        with spmd.ensure_compile_time_eval():
            table = jnp.arange(4.0) ** 2
            assert type(table) is spmd.transforms.array.Array  # concrete: Python may branch on it
            scale = 2.0 if table.sum() > 10 else 3.0
            y = x * table  # a traced value stays traced
            assert type(y) is not spmd.transforms.array.Array
        return y * scale
    x = np.ones(4, np.float32)
    np.testing.assert_allclose(np.asarray(f(x)), x * np.arange(4.0) ** 2 * 2.0)


def test_without_it_the_same_branch_is_a_concretization_error():
    def f(x):
        return x * (2.0 if jnp.arange(4.0).sum() > 1 else 3.0)
    with pytest.raises(Exception, match="(?i)concret"):
        spmd.jit(f)(1.0)


def test_named_scope_as_context_manager_and_decorator():
    @spmd.named_scope("block")
    def g(x):
        assert scopes.name_stack() == ("outer", "block")
        return x + 1
    with spmd.named_scope("outer"):
        assert float(spmd.jit(g)(1.0)) == 2.0
    assert scopes.name_stack() == ()
    with pytest.raises(TypeError, match="named_scope name argument must be a string"):
        with spmd.named_scope(3):
            pass


def test_named_scope_names_the_operations_in_the_lowered_program():
    @spmd.jit
    def f(x):
        with spmd.named_scope("dense"):
            y = jnp.tanh(x)
        with spmd.named_scope('odd"name'):
            return y * 2

    x = np.ones(3, np.float32)
    text = f.lower(x).as_text(debug_info=True)  # locations shown, as JAX's debug_info=True
    assert 'loc("dense/tanh")' in text and 'loc("odd\\22name/mul")' in text
    optimized = f.lower(x).compile().as_text()  # XLA keeps them as op_name metadata
    assert re.search(r'tanh\(%param[\w.]*\), metadata=\{op_name="dense/tanh"\}', optimized)
    np.testing.assert_allclose(np.asarray(f(x)), np.tanh(x) * 2, rtol=1e-6)
    plain = spmd.jit(lambda v: jnp.tanh(v) * 2).lower(x)
    assert "op_name" not in plain.compile().as_text()
