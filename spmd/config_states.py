"""JAX's top-level settings as context managers (`with jax.debug_nans(True): ...`), each also
read as `.value` and set for good with `spmd.config.update("jax_<name>", value)`. spmd's
settings are per process, not per thread as JAX's context managers are: set them around whole
computations, not in one thread while others compute.

What each does in spmd:
- debug_nans, debug_infs: every eager op's and jitted function's floating outputs are checked;
  a NaN (Inf) raises FloatingPointError naming the primitive that made it.
- default_device: where arrays are created, host values put (device_put) and computations on
  uncommitted inputs run (jit, eager ops); arrays already on a device keep computing there.
- log_compiles: each XLA compilation is logged (logger "spmd.compiles") at WARNING.
- explain_cache_misses: each trace of a jitted function logs (logger "spmd.cache_misses") why
  no earlier trace fitted.
- numpy_dtype_promotion: "strict" raises jax.dtypes.TypePromotionError where two differently
  typed operands would promote implicitly (weak Python scalars still adopt the other type).
- numpy_rank_promotion: "warn" or "raise" where operands of different ranks broadcast.
- transfer_guard, transfer_guard_host_to_device / _device_to_device / _device_to_host:
  "allow", "log", "disallow", "log_explicit", "disallow_explicit". Implicit transfers (a NumPy
  value or Python scalar into an operation, an Array moved to the device a jit runs on) are
  logged or refused; device_put and device_get are explicit, refused only by
  "disallow_explicit". As in JAX, reading a CPU device's array to the host is never refused
  (spmd's devices are XLA's CPU devices), so transfer_guard_device_to_host changes nothing.
- check_tracer_leaks (checking_leaks()): after a jit, grad or vmap traces, a traced value
  kept past the trace (a global, a list outside) raises an error naming it.
- enable_checks: every program jit traces is type-checked (each equation's output types
  against its primitive's shape rule) before it is compiled.
- legacy_prng_key: "warn" or "error" where spmd.random gets a raw uint32 key instead of a
  typed key (spmd.random.key).
- threefry_partitionable: which of JAX's two Threefry stream layouts spmd.random uses.
- enable_custom_prng: as in JAX 0.10.2, only a FutureWarning where spmd.random gets a raw key
  while legacy_prng_key is "allow" (implementations are chosen with `impl=` either way).
- softmax_custom_jvp: nn.softmax (without `where`) differentiates with JAX's custom_jvp rule,
  y * (t - sum(y * t)), instead of through its formula (same values, less memory kept).
- allow_f16_reductions: JAX 0.10.2 reads it nowhere and reduces float16/bfloat16 either way;
  so does spmd.
"""
from __future__ import annotations

import contextlib
import functools

from spmd.transforms.config import config


class ConfigState:
    """A setting as JAX's config states have it: `.value`; `with state(new): ...` sets it for
    the block (and `@state(new)` for a function's calls)."""

    def __init__(self, option: str):
        self.option = option
        self.__name__ = option

    @property
    def value(self):
        return getattr(config, self.option)

    def __call__(self, new_value):
        return _Setting(self.option, new_value)

    def __bool__(self):
        raise TypeError(f"bool() of jax_{self.option} is ambiguous: read its .value")

    def __repr__(self):
        return f"<config state jax_{self.option}={self.value!r}>"


class _Setting(contextlib.ContextDecorator):
    def __init__(self, option, value):
        self.option, self.new_value = option, value
        self.previous = []  # a stack: the same setting object may be entered again inside

    def __enter__(self):
        self.previous.append(getattr(config, self.option))
        config.update(self.option, self.new_value)

    def __exit__(self, *exc):
        config.update(self.option, self.previous.pop())


enable_x64 = ConfigState("enable_x64")
debug_nans = ConfigState("debug_nans")
debug_infs = ConfigState("debug_infs")
default_device = ConfigState("default_device")
log_compiles = ConfigState("log_compiles")
explain_cache_misses = ConfigState("explain_cache_misses")
numpy_dtype_promotion = ConfigState("numpy_dtype_promotion")
numpy_rank_promotion = ConfigState("numpy_rank_promotion")
transfer_guard_host_to_device = ConfigState("transfer_guard_host_to_device")
transfer_guard_device_to_device = ConfigState("transfer_guard_device_to_device")
transfer_guard_device_to_host = ConfigState("transfer_guard_device_to_host")
enable_checks = ConfigState("enable_checks")
check_tracer_leaks = ConfigState("check_tracer_leaks")
checking_leaks = functools.partial(check_tracer_leaks, True)
threefry_partitionable = ConfigState("threefry_partitionable")
legacy_prng_key = ConfigState("legacy_prng_key")
enable_custom_prng = ConfigState("enable_custom_prng")
softmax_custom_jvp = ConfigState("softmax_custom_jvp")
allow_f16_reductions = ConfigState("allow_f16_reductions")


@contextlib.contextmanager
def transfer_guard(new_val: str):
    """The transfer guard level of every direction (host to device, device to device, device
    to host) for the block: 'allow', 'log', 'disallow', 'log_explicit', 'disallow_explicit'."""
    with contextlib.ExitStack() as stack:
        for state in (transfer_guard_host_to_device, transfer_guard_device_to_device,
                      transfer_guard_device_to_host):
            stack.enter_context(state(new_val))
        yield
