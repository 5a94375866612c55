"""Gradients that were silently wrong (issue 13, part 0), against closed forms and JAX 0.10.2's
conventions: tangents through the aux output of an inner transform, abs at real and complex
zero, and the derivative at kinks (ties of max/min split, clamp's ties give nothing)."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax


# ---------------------------------------------------------------- aux outputs carry tangents
def _pair(x):
    return x ** 2, x ** 3  # (output, aux); d(aux)/dx = 3 x^2 = 12 at 2


AUX_OF = {
    "grad": lambda x: spmd.grad(_pair, has_aux=True)(x)[1],
    "value_and_grad": lambda x: spmd.value_and_grad(_pair, has_aux=True)(x)[0][1],
    "jvp": lambda x: spmd.jvp(_pair, (x,), (1.0,), has_aux=True)[2],
    "vjp": lambda x: spmd.vjp(_pair, x, has_aux=True)[2],
    "jacfwd": lambda x: spmd.jacfwd(_pair, has_aux=True)(x)[1],
    "jacrev": lambda x: spmd.jacrev(_pair, has_aux=True)(x)[1],
}


@pytest.mark.parametrize("transform", sorted(AUX_OF))
def test_aux_of_an_inner_transform_is_differentiated_by_the_outer_one(transform):
    inner = AUX_OF[transform]
    assert float(spmd.grad(inner)(2.0)) == 12.0
    assert float(spmd.jvp(inner, (2.0,), (1.0,))[1]) == 12.0
    assert float(spmd.grad(spmd.grad(inner))(2.0)) == 12.0  # 6 x


def test_aux_leaves_its_own_transform_as_a_plain_value():
    # the inner transform's tracer must not leak: aux is the primal, usable as a NumPy value
    grad_value, aux = spmd.grad(_pair, has_aux=True)(2.0)
    assert (float(grad_value), float(aux)) == (4.0, 8.0)
    assert np.asarray(spmd.jit(lambda x: spmd.grad(_pair, has_aux=True)(x)[1])(2.0)) == 8.0


# ---------------------------------------------------------------- abs
def test_abs_derivative_is_one_at_real_zero_as_in_jax():
    assert float(spmd.grad(jnp.abs)(0.0)) == 1.0
    assert float(spmd.grad(jnp.abs)(-0.0)) == 1.0  # -0.0 >= 0
    assert float(spmd.grad(jnp.abs)(-2.0)) == -1.0
    np.testing.assert_array_equal(
        np.asarray(spmd.vmap(spmd.grad(lax.abs))(np.array([-1.0, 0.0, 1.0], np.float32))),
        [-1.0, 1.0, 1.0])


def test_abs_of_complex_zero_has_zero_gradient_not_nan():
    z = np.zeros(3, np.complex64)
    g = spmd.grad(lambda z: jnp.sum(jnp.cos(jnp.abs(z))))(z)
    np.testing.assert_array_equal(np.asarray(g), np.zeros(3, np.complex64))
    assert float(spmd.jvp(jnp.abs, (np.complex64(0),), (np.complex64(1 + 1j),))[1]) == 0.0


def test_abs_of_complex_away_from_zero_is_unchanged():
    # f(x + iy) = |z|: JAX's grad is df/dx - i df/dy = conj(z) / |z|
    z = np.complex64(3 + 4j)
    np.testing.assert_allclose(complex(spmd.grad(jnp.abs)(z)), 0.6 - 0.8j, rtol=1e-6)


# ---------------------------------------------------------------- kinks, as JAX 0.10.2
KINKS = {
    # name: (function, point, JAX's derivative there)
    "relu at 0": (spmd.nn.relu, 0.0, 0.0),
    "maximum tie": (lambda x: jnp.maximum(x, 1.0), 1.0, 0.5),
    "minimum tie": (lambda x: jnp.minimum(x, 1.0), 1.0, 0.5),
    "clip at min": (lambda x: jnp.clip(x, 0.0, 1.0), 0.0, 0.5),
    "clip at max": (lambda x: jnp.clip(x, 0.0, 1.0), 1.0, 0.5),
    "clamp at min": (lambda x: lax.clamp(0.0, x, 1.0), 0.0, 0.0),
    "clamp at max": (lambda x: lax.clamp(0.0, x, 1.0), 1.0, 0.0),
    "clamp inside": (lambda x: lax.clamp(0.0, x, 1.0), 0.5, 1.0),
    "clamp's min at a tie": (lambda lo: lax.clamp(lo, 0.0, 1.0), 0.0, 0.0),
    "clamp's min above x": (lambda lo: lax.clamp(lo, -1.0, 1.0), 0.0, 1.0),
    "clamp's max below x": (lambda hi: lax.clamp(0.0, 2.0, hi), 1.0, 1.0),
    "sign at 0": (jnp.sign, 0.0, 0.0),
    "round at a half": (jnp.round, 0.5, 0.0),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_derivative_at_a_kink_follows_jax(name):
    f, x, expected = KINKS[name]
    assert float(spmd.grad(f)(np.float32(x))) == expected


def test_reduce_max_ties_share_the_gradient():
    g = spmd.grad(lambda x: jnp.max(x))(np.array([1.0, 3.0, 3.0], np.float32))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.5, 0.5])


def test_clamp_keeps_its_values_exactly():
    x = np.array([-np.inf, -2.0, -0.0, 0.0, 0.5, 2.0, np.inf, np.nan], np.float32)
    got = np.asarray(lax.clamp(np.float32(-1.0), x, np.float32(1.0)))
    np.testing.assert_array_equal(got, np.clip(x, -1.0, 1.0))
    assert np.signbit(got[2]) and not np.signbit(got[3])
