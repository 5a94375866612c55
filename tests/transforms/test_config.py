"""Settings read from the environment: a bad value names its variable, at once."""
import importlib

import pytest

import spmd

# the module, not the `config` object that spmd.transforms exports under the same name
config_module = importlib.import_module("spmd.transforms.config")


@pytest.mark.parametrize("variable, value, message", [
    ("SPMD_CPU_DEVICES", "abc",
     "SPMD_CPU_DEVICES must be a whole number \\(at least 1\\), got 'abc'"),
    ("SPMD_CPU_DEVICES", "0", "SPMD_CPU_DEVICES must be at least 1, got 0"),
    ("SPMD_MAX_INFLIGHT", "abc", "SPMD_MAX_INFLIGHT must be a whole number"),
    ("SPMD_MAX_INFLIGHT", "1.5", "SPMD_MAX_INFLIGHT must be a whole number"),
    ("SPMD_CACHE_SIZE", "-3", "SPMD_CACHE_SIZE must be at least 1, got -3"),
    ("XLA_FLAGS", "--xla_force_host_platform_device_count=four",
     "--xla_force_host_platform_device_count= must be a whole number"),
])
def test_a_bad_environment_value_names_its_variable(monkeypatch, variable, value, message):
    monkeypatch.delenv("SPMD_CPU_DEVICES", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        config_module.Config()


def test_good_environment_values_are_read(monkeypatch):
    monkeypatch.delenv("SPMD_CPU_DEVICES", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--foo --xla_force_host_platform_device_count=3")
    monkeypatch.setenv("SPMD_MAX_INFLIGHT", " 5 ")
    fresh = config_module.Config()
    assert (fresh.cpu_devices, fresh.max_inflight_executions) == (3, 5)
    monkeypatch.setenv("SPMD_CPU_DEVICES", "6")  # spmd's own variable wins over XLA's flag
    assert config_module.Config().cpu_devices == 6


def test_an_unknown_option_is_named():
    with pytest.raises(AttributeError, match="spmd.config has no option 'no_such_option'"):
        spmd.config.no_such_option  # noqa: B018
    with pytest.raises(ValueError, match="unknown spmd config option 'no_such_option'"):
        spmd.config.update("no_such_option", 1)


@pytest.mark.parametrize("value, on", [("0", False), ("off", False), ("no", False),
                                       ("1", True), ("yes", True), ("", True)])
def test_switches_that_are_on_unless_turned_off(monkeypatch, value, on):
    monkeypatch.setenv("SPMD_CHECK_CALL_ORDER", value)
    monkeypatch.setenv("JAX_THREEFRY_PARTITIONABLE", value)
    fresh = config_module.Config()
    assert fresh.check_call_order is on and fresh.threefry_partitionable is on


@pytest.mark.parametrize("option, value", [("jax_platform_name", "cpu"), ("jax_platforms", "cpu"),
                                           ("jax_platforms", "cuda,cpu"),
                                           ("jax_platform_name", None),
                                           ("jax_debug_nans", False), ("jax_debug_infs", False)])
def test_jax_programs_first_lines_are_taken(option, value):
    fresh = config_module.Config()
    fresh.update(option, value)  # what a JAX script sets before anything else
    assert fresh.read(option) == value and getattr(fresh, option) == value


@pytest.mark.parametrize("option, value, error, message", [
    ("jax_platform_name", "gpu", ValueError,
     "jax_platform_name 'gpu' asks for a backend spmd does not have: spmd runs on XLA's CPU"),
    ("jax_platforms", "cuda,tpu", ValueError, "jax_platforms 'cuda,tpu' asks for a backend"),
])
def test_settings_spmd_cannot_honour_are_refused(option, value, error, message):
    fresh = config_module.Config()
    before = fresh.read(option)
    with pytest.raises(error, match=message):
        fresh.update(option, value)
    assert fresh.read(option) == before  # the refused value is not kept
