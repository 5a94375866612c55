"""lax.rng_uniform (XLA's stateful generator): the range, dtype and shape of its draws for
every dtype family it supports, that the draws look uniform, vmap with varying float bounds,
and the misuses (it has no derivative, as in JAX)."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, dtypes.bfloat16,
                                   np.int32, np.uint32, np.int64])
def test_draws_lie_in_the_range_with_the_bounds_dtype(dtype, x64):
    low, high = np.array(2, dtype), np.array(9, dtype)
    draws = np.asarray(lax.rng_uniform(low, high, (40, 50))).astype(np.float64)
    assert lax.rng_uniform(low, high, (3,)).dtype == np.dtype(dtype)
    assert draws.shape == (40, 50)
    # half-open [2, 9) for exact types; float16/bfloat16 round the top draws up to 9
    upper = 9 if dtype in (np.float16, dtypes.bfloat16) else np.nextafter(9, 0)
    assert draws.min() >= 2 and draws.max() <= upper
    if np.issubdtype(dtype, np.integer):  # uniform over 2..8: mean 5, standard deviation 2
        assert set(np.unique(draws)) == set(range(2, 9))
        middle, spread = 5.0, 2.0
    else:  # uniform over [2, 9): mean 5.5, standard deviation 7 / sqrt(12)
        middle, spread = 5.5, 7 / np.sqrt(12)
    # 2000 draws: the mean is within 5 standard errors of the middle
    assert abs(draws.mean() - middle) < 5 * spread / np.sqrt(draws.size)


def test_jit_draws_anew_on_each_call():
    draw = spmd.jit(lambda: lax.rng_uniform(np.float32(0), np.float32(1), (64,)))
    assert not np.array_equal(np.asarray(draw()), np.asarray(draw()))


def test_vmap_scales_one_draw_per_element_to_its_own_bounds():
    low = np.array([0.0, 10.0, -5.0], np.float32)
    draws = np.asarray(spmd.vmap(lambda a: lax.rng_uniform(a, a + 1, (500,)))(low))
    assert draws.shape == (3, 500)
    assert np.all(draws >= low[:, None]) and np.all(draws < low[:, None] + 1)
    with pytest.raises(NotImplementedError, match="int32 bounds that vary along the mapped axis"):
        spmd.vmap(lambda a: lax.rng_uniform(a, a + 3, (2,)))(np.arange(3, dtype=np.int32))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: lax.rng_uniform(np.float32(0), np.float64(1), (2,)), ValueError,
     "must have identical dtypes"),
    (lambda: lax.rng_uniform(np.zeros(2, np.float32), np.float32(1), (2,)), ValueError,
     "must be scalars"),
    (lambda: lax.rng_uniform(np.int8(0), np.int8(3), (2,)), TypeError,
     "floats or 32/64-bit integers, not int8"),
    (lambda: lax.rng_uniform(np.bool_(0), np.bool_(1), (2,)), TypeError, "not bool"),
    (lambda: spmd.grad(lambda a: lax.rng_uniform(a, a + 1, ()))(1.0), TypeError,
     "rng_uniform is not differentiable"),
])
def test_misuses_say_what_is_wrong(call, exc, match, x64):
    with pytest.raises(exc, match=match):
        call()
