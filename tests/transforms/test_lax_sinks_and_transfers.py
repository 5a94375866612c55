"""lax.dce_sink (+ dce_sink_p), lax.device_put_p and random.random_gamma_p: the primitives JAX
exports under these names, with their rules, against NumPy, the eager value and the optimized
program XLA compiles."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd import random as spmd_random

X = np.array([0.5, -1.0, 2.0], np.float32)


def _sinking(prevent):
    def f(x):
        lax.dce_sink({"kept": x * 3.0}, prevent_mlir_dce=prevent)
        return x + 1.0
    return f


@pytest.mark.parametrize("prevent", [False, True])
def test_dce_sink_keeps_its_operand_in_the_program_and_returns_nothing(prevent):
    f = _sinking(prevent)
    assert lax.dce_sink(X) is None
    text = str(spmd.make_jaxpr(f)(X))
    assert f"dce_sink[prevent_mlir_dce={prevent}]" in text and "mul" in text
    np.testing.assert_allclose(spmd.jit(f)(X), X + 1)
    # only the side-effecting call survives XLA's own dead-code elimination
    hlo = spmd.jit(f).lower(X).compile().as_text()
    assert ('custom_call_target="dce_sink"' in hlo) == prevent
    assert ("multiply" in hlo) == prevent
    np.testing.assert_allclose(spmd.jit(spmd.grad(lambda x: f(x).sum()))(X), np.ones(3))
    np.testing.assert_allclose(spmd.vmap(f)(np.stack([X, 2 * X])), np.stack([X, 2 * X]) + 1)


def _put(x, device):
    return lax.device_put_p.bind(x, devices=(device,), srcs=(None,), copy_semantics=("copy",))[0]


def test_device_put_p_moves_values_and_their_cotangents():
    devices = spmd.local_devices()
    moved = _put(X, devices[1])
    assert moved.devices() == {devices[1]}
    np.testing.assert_array_equal(moved, X)

    def loss(x):
        return (_put(x * x, devices[1]) * 2.0).sum()
    np.testing.assert_allclose(spmd.grad(loss)(X), 4 * X)
    np.testing.assert_allclose(spmd.jit(spmd.grad(loss))(X), 4 * X)
    np.testing.assert_allclose(spmd.jvp(loss, (X,), (np.ones(3, np.float32),))[1], 4 * X.sum())
    xs = np.stack([X, X - 1])
    np.testing.assert_allclose(spmd.vmap(spmd.grad(loss))(xs), 4 * xs)
    # the transpose sends the cotangent back to where the operand was (srcs)
    jaxpr = str(spmd.make_jaxpr(spmd.grad(loss))(X))
    assert f"devices=(None,) srcs=({devices[1]!r},)" in jaxpr


def test_device_put_p_needs_one_destination_per_operand():
    with pytest.raises(TypeError, match="device_put takes one destination, source and copy "
                                        "semantics per operand, got 2 operands, 1 devices"):
        lax.device_put_p.bind(X, X, devices=(None,), srcs=(None,), copy_semantics=("copy",))


def test_random_gamma_p_is_the_primitive_gamma_binds():
    key = spmd_random.key(0)
    text = str(spmd.make_jaxpr(lambda a: spmd_random.gamma(key, a))(X + 2))
    assert f"{spmd_random.random_gamma_p.name}[" in text
    assert spmd_random.random_gamma_p.name == "random_gamma"
