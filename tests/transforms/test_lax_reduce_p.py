"""lax.reduce with a computation of its own as JAX's primitive reduce_p (one XLA reduce): values
against NumPy for the dtype families and a pytree (variadic) reduction, derivatives against
finite differences, vmap against the unbatched function, and the misuses."""
import numpy as np
import pytest

import spmd
from spmd import lax
from tests.oracles import assert_close, check_grads, check_mapped

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.complex64])
def test_one_xla_reduce_matches_numpy(dtype):
    x = (rng.integers(1, 3, (3, 4)) + (1j if dtype == np.complex64 else 0)).astype(dtype)
    f = lambda x: lax.reduce(x, dtype(1), lambda a, b: a * b, (1,))  # noqa: E731
    assert_close(f(x), np.prod(x, 1, dtype=dtype))
    assert_close(spmd.jit(f)(x), np.prod(x, 1, dtype=dtype))
    eqns = spmd.make_jaxpr(f)(x).jaxpr.eqns
    assert [e.prim for e in eqns] == [lax.reduce_p]
    assert "stablehlo.reduce" in spmd.jit(f).lower(x).as_text()


def test_a_pytree_reduces_in_one_variadic_reduce():
    values, index = rng.standard_normal((2, 5)).astype(np.float32), np.arange(5, dtype=np.int32)

    def pick(a, b):
        take_b = lax.gt(b[0], a[0])
        return lax.select(take_b, b[0], a[0]), lax.select(take_b, b[1], a[1])
    index = np.broadcast_to(index, (2, 5))
    best, at = lax.reduce((values, index), (np.float32(-np.inf), np.int32(-1)), pick, (1,))
    assert_close(best, values.max(1))
    np.testing.assert_array_equal(np.asarray(at), values.argmax(1))


def test_derivatives_match_finite_differences(x64):
    x = rng.standard_normal((3, 4)) + 2.0
    check_grads(lambda x: lax.reduce(x, 1.0, lambda a, b: a * b, (0,)), (x,), order=2)
    check_grads(lambda x: lax.reduce(x, 0.0, lambda a, b: a + b * 1.0, (0, 1)), (x,), order=1)


def test_vmap_matches_the_unbatched_function():
    xs = rng.standard_normal((2, 3, 4)).astype(np.float32)
    f = lambda x: lax.reduce(x, np.float32(1), lambda a, b: a * b, (1,))  # noqa: E731
    check_mapped(spmd.vmap(f), f, (xs,))
    check_mapped(spmd.vmap(f, in_axes=2), f, (xs,), in_axes=2)


def test_misuses_say_what_is_wrong():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="must have the same structure"):
        lax.reduce((x, x), np.float32(0), lambda a, b: a, (0,))
    with pytest.raises(TypeError, match="must not close over arrays"):
        spmd.jit(lambda y: lax.reduce(x, np.float32(0), lambda a, b: a + b * y, (0,)))(
            np.float32(2))
    f = lambda i: lax.reduce(x, i, lambda a, b: a * b, (0,))  # noqa: E731
    with pytest.raises(NotImplementedError, match="init values that vary over a vmap axis"):
        spmd.vmap(f)(np.ones(2, np.float32))
