"""JAX's top-level settings (spmd/config_states.py): each is a context manager that sets its
config option for a block and restores it, and each does in spmd what JAX's does."""
import functools
import logging
import warnings

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.transforms.config import CHOICES, config

STATES = ["debug_nans", "debug_infs", "default_device", "log_compiles", "explain_cache_misses",
          "numpy_dtype_promotion", "numpy_rank_promotion", "transfer_guard_host_to_device",
          "transfer_guard_device_to_device", "transfer_guard_device_to_host", "enable_checks",
          "check_tracer_leaks", "threefry_partitionable", "legacy_prng_key",
          "enable_custom_prng", "softmax_custom_jvp", "allow_f16_reductions", "enable_x64"]
NEW_VALUE = {"default_device": "cpu", "numpy_dtype_promotion": "strict",
             "numpy_rank_promotion": "warn", "legacy_prng_key": "warn",
             **{f"transfer_guard_{d}": "log"
                for d in ("host_to_device", "device_to_device", "device_to_host")}}


@pytest.mark.parametrize("name", STATES)
def test_each_setting_is_set_for_the_block_and_restored(name):
    state = getattr(spmd, name)
    before = state.value
    new = NEW_VALUE.get(name, not before)
    with state(new):
        assert state.value == new == config.read(name) == getattr(config, "jax_" + name)
    assert state.value == before
    with pytest.raises(TypeError, match=f"bool.. of jax_{name} is ambiguous: read its .value"):
        bool(state)


def test_a_setting_decorates_a_function_and_checking_leaks_turns_the_check_on():
    @spmd.numpy_rank_promotion("raise")
    def add(a, b):
        return a + b
    with pytest.raises(ValueError, match="jax_numpy_rank_promotion='raise'"):
        add(jnp.ones((2, 3)), jnp.ones(3))
    assert spmd.numpy_rank_promotion.value == "allow"
    with spmd.checking_leaks():
        assert spmd.check_tracer_leaks.value is True
    assert spmd.check_tracer_leaks.value is False


@pytest.mark.parametrize("name, bad", [("numpy_dtype_promotion", "loose"),
                                       ("numpy_rank_promotion", "maybe"),
                                       ("legacy_prng_key", "sometimes"),
                                       ("transfer_guard_device_to_host", "never")])
def test_a_setting_refuses_a_value_it_does_not_have_and_keeps_its_own(name, bad):
    with pytest.raises(ValueError, match=f"jax_{name} must be one of .*got '{bad}'"):
        config.update(name, bad)
    assert getattr(spmd, name).value == CHOICES[name][0]


def test_debug_nans_as_a_context_manager():
    with spmd.debug_nans(True), pytest.raises(FloatingPointError, match="invalid value .nan."):
        jnp.log(jnp.array(-1.0))
    assert np.isnan(float(jnp.log(jnp.array(-1.0))))
    with spmd.debug_infs(True), pytest.raises(FloatingPointError, match="invalid value .inf."):
        spmd.jit(lambda x: 1 / x)(jnp.zeros(2))


# ---------------------------------------------------------------- dtype and rank promotion
def test_strict_promotion_raises_jax_type_promotion_error_and_lets_weak_scalars_adopt():
    f32, f16, i32 = jnp.ones(3), jnp.ones(3, jnp.float16), jnp.ones(3, jnp.int32)
    assert (f32 + f16).dtype == np.float32  # standard: the lattice's join
    with spmd.numpy_dtype_promotion("strict"):
        assert (f16 + 1.0).dtype == np.float16 and (i32 * 2).dtype == np.int32
        assert (f32 + f32).dtype == np.float32
        with pytest.raises(spmd.dtypes.TypePromotionError, match=(
                r"Input dtypes \('float32', 'float16'\) have no available implicit dtype "
                r"promotion path when jax_numpy_dtype_promotion=strict. Try explicitly casting")):
            f32 + f16
        with pytest.raises(spmd.dtypes.TypePromotionError, match=r"\('int32', 'float32'\)"):
            jnp.promote_types(np.int32, np.float32)
        with pytest.raises(spmd.dtypes.TypePromotionError):
            spmd.jit(lambda a, b: a * b)(i32, f32)  # also while tracing
    assert issubclass(spmd.dtypes.TypePromotionError, ValueError)
    assert (i32 * f32).dtype == np.float32


def test_rank_promotion_allow_warn_raise_also_for_a_function_jitted_before():
    x, row = jnp.arange(6.0).reshape(2, 3), jnp.arange(3.0)
    f = spmd.jit(lambda a, b: a + b)
    expected = np.arange(6.0).reshape(2, 3) + np.arange(3.0)
    np.testing.assert_array_equal(f(x, row), expected)  # traced under 'allow'
    with spmd.numpy_rank_promotion("raise"):
        with pytest.raises(ValueError, match=(
                r"^Operands could not be broadcast together for add on shapes \(2, 3\) \(3,\) "
                r"and with the config option jax_numpy_rank_promotion='raise'")):
            f(x, row)
        np.testing.assert_array_equal(x + 1.0, np.arange(6.0).reshape(2, 3) + 1)  # scalars
        np.testing.assert_array_equal(x * jnp.ones((1, 3)), x)  # same rank
    with spmd.numpy_rank_promotion("warn"), pytest.warns(
            UserWarning, match=r"Following NumPy automatic rank promotion for multiply on "
                               r"shapes \(2, 3\) \(3,\)"):
        np.testing.assert_array_equal(x * row, np.arange(6.0).reshape(2, 3) * np.arange(3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(f(x, row), expected)


def test_a_promotion_setting_retraces_but_does_not_recompile(caplog):
    f = spmd.jit(lambda a: a * 3)
    np.testing.assert_array_equal(f(jnp.ones(2)), [3.0, 3.0])
    with spmd.numpy_dtype_promotion("strict"):
        pass  # traces are forgotten, the executables compiled from their text kept
    with caplog.at_level(logging.WARNING, logger="spmd.compiles"), spmd.log_compiles(True):
        np.testing.assert_array_equal(f(jnp.ones(2)), [3.0, 3.0])
    assert not caplog.records


# ---------------------------------------------------------------- where things run
def test_default_device_places_new_arrays_host_values_and_jit_there():
    target = spmd.devices()[3]
    with spmd.default_device(target):
        assert jnp.ones(3).devices() == {target}
        assert spmd.device_put(np.ones(2)).devices() == {target}
        out = spmd.jit(lambda a: a * 2)(np.arange(3.0))
        assert out.devices() == {target}
        np.testing.assert_array_equal(out, 2 * np.arange(3.0))
    assert jnp.ones(3).devices() == {spmd.devices()[0]}
    with pytest.raises(ValueError, match=r"jax_default_device must be passed either a Device "
                                         r"object .* got: 'gpu'"):
        config.update("default_device", "gpu")
    assert spmd.default_device.value is None


# ---------------------------------------------------------------- logs
def test_log_compiles_logs_each_compilation_with_its_argument_types(caplog):
    def scaled_sum(a, b):
        return (a * b).sum()
    with caplog.at_level(logging.WARNING, logger="spmd.compiles"), spmd.log_compiles(True):
        spmd.jit(scaled_sum)(jnp.ones((3, 5)), jnp.ones((3, 5), jnp.int32))
    messages = [r.getMessage() for r in caplog.records]
    assert "Compiling scaled_sum with global shapes and types [f32[3,5], i32[3,5]]." in messages
    assert any(m.startswith("Finished XLA compilation of scaled_sum in ") for m in messages)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spmd.compiles"):
        spmd.jit(scaled_sum)(jnp.ones((3, 6)), jnp.ones((3, 6)))
    assert not caplog.records  # off: DEBUG only


def test_explain_cache_misses_says_why_a_jitted_function_traces_again(caplog):
    def scale(x, n):
        return x * n
    f = spmd.jit(scale, static_argnums=1)
    with caplog.at_level(logging.WARNING, logger="spmd.cache_misses"), \
            spmd.explain_cache_misses(True):
        f(jnp.ones(3), 2)
        f(jnp.ones(3), 2)  # a hit: nothing logged
        f(jnp.ones(4), 2)
        f(jnp.ones(4), 3)
    first, shapes, static = (r.getMessage() for r in caplog.records)
    assert first.startswith(f"TRACING CACHE MISS at {__file__}:")
    assert f"never seen function:\n    scale id={id(scale)} defined at {__file__}" in first
    assert ("all previously seen cache keys differ. For the closest previous key:\n"
            "  different input types:\n  * at argument 0 (x), now f32[4] and before f32[3]"
            in shapes)
    assert "different static arguments" in static


# ---------------------------------------------------------------- transfer guards
def test_transfer_guard_disallows_implicit_transfers_and_lets_explicit_ones_through():
    x, on_1 = jnp.arange(3.0), spmd.device_put(jnp.arange(3.0), spmd.devices()[1])
    to_device_2 = spmd.jit(lambda a: a * 2, device=spmd.devices()[2])
    with spmd.transfer_guard("disallow"):
        with pytest.raises(Exception, match=r"Disallowed host-to-device transfer: "
                                            r"aval=ShapedArray\(float32\[3\]\), dst_sharding="
                                            r"SingleDeviceSharding\(device=CpuDevice"):
            x + np.ones(3, np.float32)
        with pytest.raises(Exception, match=r"Disallowed device-to-device transfer: "
                                            r"aval=ShapedArray\(float32\[3\]\), sharding="
                                            r"SingleDeviceSharding\(device=CpuDevice\(id=1\)"):
            to_device_2(on_1)
        moved = spmd.device_put(on_1, spmd.devices()[2])  # explicit
        assert moved.devices() == {spmd.devices()[2]}
        np.testing.assert_array_equal(spmd.device_put(np.ones(2)), np.ones(2))
        # as JAX: reading a CPU device's array is always allowed
        np.testing.assert_array_equal(np.asarray(x + x), 2 * np.arange(3.0))
    assert spmd.transfer_guard_host_to_device.value == "allow"
    np.testing.assert_array_equal(to_device_2(on_1), 2 * np.arange(3.0))
    with spmd.transfer_guard_host_to_device("disallow_explicit"), pytest.raises(
            Exception, match="Disallowed host-to-device transfer"):
        spmd.device_put(np.ones(2))
    with spmd.transfer_guard_device_to_device("disallow_explicit"), pytest.raises(
            Exception, match="Disallowed device-to-device transfer"):
        spmd.device_put(on_1, spmd.devices()[3])
    with spmd.transfer_guard("log"):  # logged (by jaxlib, to stderr) and let through
        np.testing.assert_array_equal(x + np.ones(3, np.float32), np.arange(3.0) + 1)


# ---------------------------------------------------------------- keys, leaks, checks
def test_legacy_prng_key_warns_or_refuses_a_raw_key_and_enable_custom_prng_warns():
    raw, typed = spmd.random.PRNGKey(0), spmd.random.key(0)
    expected = np.asarray(spmd.random.uniform(raw, (2,)))
    with spmd.legacy_prng_key("warn"), pytest.warns(
            UserWarning, match="Legacy uint32 key array passed as key to jax.random function"):
        np.testing.assert_array_equal(spmd.random.uniform(raw, (2,)), expected)
    with spmd.legacy_prng_key("error"):
        with pytest.raises(ValueError, match='set jax_legacy_prng_key="allow"'):
            spmd.random.uniform(raw, (2,))
        np.testing.assert_array_equal(spmd.random.uniform(typed, (2,)), expected)
    with spmd.enable_custom_prng(True), pytest.warns(FutureWarning,
                                                     match="Raw arrays as random keys"):
        spmd.random.uniform(raw, (2,))


def test_check_tracer_leaks_names_a_tracer_kept_past_its_trace():
    kept = []

    def leaky(x):
        y = jnp.sin(x)
        kept.append(y)
        return y * 2
    @functools.partial(spmd.custom_vjp, nondiff_argnums=(0,))
    def scaled(k, x):
        return k * x
    scaled.defvjp(lambda k, x: (k * x, None), lambda k, _, g: (k * g,))
    with spmd.checking_leaks():
        np.testing.assert_allclose(spmd.jit(lambda x: jnp.cos(x).sum())(jnp.zeros(3)), 3.0)
        np.testing.assert_allclose(spmd.grad(lambda x: jnp.cos(x).sum())(jnp.zeros(3)), 0.0)
        np.testing.assert_allclose(spmd.vmap(jnp.cos)(jnp.zeros(3)), 1.0)
        np.testing.assert_allclose(
            spmd.grad(spmd.jit(lambda x: scaled(2.0, x).sum()))(jnp.zeros(3)), 2.0)
        for transform, trace in [(spmd.jit, "StagingTrace"), (spmd.grad, "JVPTrace"),
                                 (spmd.vmap, "BatchTrace")]:
            with pytest.raises(Exception, match=rf"^Leaked trace {trace}. Leaked tracer\(s\):"
                                                r"\n\nTraced<f32\[3?\]>.*\nheld by a list object"):
                transform(lambda x: leaky(x).sum())(jnp.ones(3))
            kept.clear()
    np.testing.assert_allclose(spmd.jit(leaky)(jnp.zeros(3)), 0.0)  # off: no check


def test_enable_checks_type_checks_staged_programs():
    from spmd.transforms import jaxpr_checks
    from spmd.transforms.core import Eqn, Jaxpr, ShapedArray, Var
    from spmd.transforms.lax.elementwise import add_p
    with spmd.enable_checks(True):
        np.testing.assert_allclose(spmd.jit(lambda x: jnp.sin(x) @ x)(jnp.ones((2, 2))),
                                   2 * np.sin(1.0) * np.ones((2, 2)), rtol=1e-6)
    a, b = Var(ShapedArray((3,), np.float32)), Var(ShapedArray((4,), np.float32))
    wrong = Jaxpr([], [a], [b], [Eqn(add_p, [a, a], [b], {})])
    with pytest.raises(jaxpr_checks.JaxprTypeError, match=(
            r"equation 0 \(add\) has outputs \[f32\[4\]\], but its shape rule gives "
            r"\[f32\[3\]\] for inputs \[f32\[3\], f32\[3\]\]")):
        jaxpr_checks.check_jaxpr(wrong)
    with pytest.raises(jaxpr_checks.JaxprTypeError, match="read by equation 0 .add. before"):
        jaxpr_checks.check_jaxpr(Jaxpr([], [a], [b], [Eqn(add_p, [a, b], [b], {})]))


def test_softmax_custom_jvp_differentiates_with_the_rule_and_the_same_values():
    x = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, 1.0]], np.float32)
    t = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]], np.float32)
    y = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    expected = y * (t - (y * t).sum(-1, keepdims=True))  # the Jacobian of softmax times t

    def tangent(a, b):
        return spmd.jvp(spmd.nn.softmax, (a,), (b,))[1]
    programs = []
    for on in (False, True):
        with spmd.softmax_custom_jvp(on):
            np.testing.assert_allclose(spmd.jit(tangent)(x, t), expected, rtol=1e-5, atol=1e-6)
            programs.append(str(spmd.make_jaxpr(tangent)(x, t)))
    assert programs[0] != programs[1] and "custom_jvp" in programs[1]
