"""jax_debug_nans / jax_debug_infs: an eager op whose output holds a NaN (Inf) raises
FloatingPointError naming the primitive; a jitted function's bad output makes it run again op by
op to name the primitive, as JAX does. NumPy gives the values the checks are about."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp


@pytest.fixture
def checks():
    def turn_on(*options):
        for option in options:
            spmd.config.update(f"jax_debug_{option}", True)
    yield turn_on
    spmd.config.update("jax_debug_nans", False)
    spmd.config.update("jax_debug_infs", False)


def test_off_by_default_the_values_pass_through():
    with np.errstate(all="ignore"):
        expected = np.log(np.float32(-1)), np.float32(1) / np.float32(0)
    np.testing.assert_array_equal(np.asarray(jnp.log(-1.0)), expected[0])
    np.testing.assert_array_equal(np.asarray(spmd.jit(lambda x: 1 / x)(0.0)), expected[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, spmd.dtypes.bfloat16, np.complex64])
def test_an_eager_op_making_a_nan_raises_naming_the_primitive(checks, dtype):
    checks("nans")
    x = np.array([1.0, -1.0], dtype)
    with pytest.raises(FloatingPointError, match=r"^invalid value \(nan\) encountered in sqrt$"):
        jnp.sqrt(jnp.asarray(x) if dtype != np.complex64 else x * np.nan)
    np.testing.assert_allclose(np.asarray(jnp.sqrt(np.array([4.0, 9.0], np.float32))), [2, 3])
    np.testing.assert_array_equal(np.asarray(jnp.sqrt(np.array([4, 9]))), [2, 3])  # no NaN


def test_a_jitted_function_is_run_again_op_by_op_to_name_the_primitive(checks):
    checks("nans")

    @spmd.jit
    def f(x):
        return jnp.sin(x) * jnp.log(x)
    x = np.array([0.5, 2.0], np.float32)
    np.testing.assert_allclose(np.asarray(f(x)), np.sin(x) * np.log(x), rtol=1e-6)
    with pytest.raises(FloatingPointError, match=r"^invalid value \(nan\) encountered in log$"):
        f(-x)
    # outputs with no floating values (keys, ints, None) pass unchecked
    keys, count, nothing = spmd.jit(lambda k: (spmd.random.split(k), 3, None))(spmd.random.key(0))
    assert keys.shape == (2,) and int(count) == 3 and nothing is None


def test_a_nan_the_op_by_op_run_does_not_make_is_reported_as_such(checks):
    checks("nans")
    with pytest.raises(FloatingPointError, match=(
            r"^invalid value \(nan\) encountered in jit\(<lambda>\)\. Because jax_debug_nans.*"
            r"produced no invalid value")):
        spmd.jit(lambda x: x)(np.array([np.nan], np.float32))  # a NaN literal input


def test_infs_are_checked_only_with_debug_infs(checks):
    checks("nans")
    np.testing.assert_array_equal(np.asarray(jnp.divide(1.0, 0.0)), np.inf)
    checks("infs")
    with pytest.raises(FloatingPointError, match=r"^invalid value \(inf\) encountered in div$"):
        jnp.divide(1.0, 0.0)
    with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in exp$"):
        spmd.jit(lambda x: jnp.exp(x) + 1)(np.float32(100))


def test_gradients_are_checked_op_by_op(checks):
    checks("nans")
    # the cotangent 0 of sqrt(x) * 0 at x = 0 meets sqrt's rule 0.5 * ct / sqrt(x) = 0 / 0
    with pytest.raises(FloatingPointError, match=r"^invalid value \(nan\) encountered in div$"):
        spmd.grad(lambda x: jnp.sqrt(x) * 0.0)(0.0)
