"""`spmd.Array` as JAX's jax.Array: the one isinstance check that holds for device arrays, typed
key arrays and traced values inside every transform, and for nothing else."""
import numpy as np

import spmd
import spmd.numpy as jnp
from spmd import random


def test_device_arrays_and_keys_are_arrays():
    assert isinstance(jnp.ones(2), spmd.Array)
    assert isinstance(random.key(0), spmd.Array)
    assert isinstance(random.split(random.key(0, impl="rbg"), 3), spmd.Array)
    assert isinstance(spmd.pmap(lambda v: v)(np.ones((spmd.device_count(), 2))), spmd.Array)
    for other in (np.ones(2), 3.0, 1, [1.0], None):
        assert not isinstance(other, spmd.Array)


def test_traced_values_are_arrays_inside_every_transform():
    seen = []

    def f(x):
        seen.append(isinstance(x, spmd.Array))
        return jnp.sum(x * 2)
    x = jnp.ones(3)
    np.testing.assert_allclose(spmd.jit(f)(x), 6.0)
    np.testing.assert_allclose(spmd.grad(f)(x), np.full(3, 2.0))
    np.testing.assert_allclose(spmd.vmap(f)(jnp.ones((2, 3))), np.full(2, 6.0))
    np.testing.assert_allclose(spmd.pmap(f)(np.ones((spmd.device_count(), 3))),
                               np.full(spmd.device_count(), 6.0))
    assert seen and all(seen)
