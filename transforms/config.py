"""Runtime settings, read once from the environment and changeable with `config.update`.

`enable_x64` (SPMD_ENABLE_X64): keep 64-bit types; off, float64 input becomes float32 as in JAX.
`cpu_devices` (SPMD_CPU_DEVICES, or XLA_FLAGS=--xla_force_host_platform_device_count=N): how
many XLA CPU devices the process gets; it must be set before the backend starts, since XLA fixes
the device count when the client is created.
`cross_process_collectives` (SPMD_CROSS_PROCESS_COLLECTIVES): how a pmap reduces between the
processes of a job: "auto" (MPI when mpirun/mpiexec started the job, else gloo), "mpi" or
"gloo". It applies to pmaps compiled after it changes.
`threefry_partitionable` (JAX_THREEFRY_PARTITIONABLE, default on): which of JAX's two layouts
spmd.random uses to turn a key into a stream of bits (see spmd/random/streams.py).
`default_prng_impl` (JAX_DEFAULT_PRNG_IMPL, default "threefry2x32"): the PRNG of keys made without
`impl=` and of raw uint32 keys (spmd/random/impls.py lists them).
`check_call_order` (SPMD_CHECK_CALL_ORDER, default on): every run of a pmap, or of a jit over a
mesh, across processes first checks that all processes run the same program at the same call
(spmd/pmap_call_order.py, transforms/partitioned_call_order.py); it costs one tiny exchange
between the processes before the program's own collectives (about +1 to 3 us over MPI; over
gloo 1.2 to 1.5x on a 4 KB psum step, a few percent on a training step). Every process must use
the same setting (the first call's program agreement check tells). Read when a program compiles.
`disable_jit` (SPMD_DISABLE_JIT or JAX_DISABLE_JIT, default off): jitted functions run their
Python eagerly, op by op, for debugging (`spmd.disable_jit()` turns it on in a `with` block).
`cache_size` (SPMD_CACHE_SIZE, default 4096): how many entries each cache of traced and
compiled programs keeps before it forgets the least recently used (transforms/caches.py).
`platform_name`, `platforms` (JAX_PLATFORM_NAME, JAX_PLATFORMS): JAX's choice of backend, which
JAX programs set first thing; spmd runs on XLA's CPU devices, so "cpu" (or a list that has it)
is the one value they take. `debug_nans`, `debug_infs` (default off): JAX's NaN/Inf checks of
every eager op's and jitted function's outputs (transforms/debug_checks.py).
JAX's other top-level settings (spmd/config_states.py says what each does in spmd):
`default_device` (None: the first local device), `log_compiles`, `explain_cache_misses`,
`numpy_dtype_promotion` ("standard"/"strict"), `numpy_rank_promotion` ("allow"/"warn"/"raise"),
`transfer_guard_host_to_device`, `_device_to_device`, `_device_to_host` ("allow", "log",
"disallow", "log_explicit", "disallow_explicit"), `enable_checks`, `check_tracer_leaks`,
`legacy_prng_key` ("allow"/"warn"/"error"), `enable_custom_prng`, `softmax_custom_jvp`,
`allow_f16_reductions`, each read from its JAX_ variable as JAX does.
"""
import os
from functools import partial


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_on_unless_off(name: str) -> bool:
    """A setting that is on unless its variable says 0, false, no or off."""
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


def _whole_number(text: str, name: str, minimum: int) -> int:
    """`text` (the value of the setting `name`) as an int of at least `minimum`, or an error
    that names the setting: a bad variable must not surface as int()'s bare message."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number (at least {minimum}), got "
                         f"{text!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_int(name: str, default: int, minimum: int) -> int:
    return _whole_number(os.environ.get(name, str(default)), name, minimum)


def _cpu_device_count() -> int:
    """SPMD_CPU_DEVICES, else XLA's own --xla_force_host_platform_device_count in XLA_FLAGS
    (what JAX users set), else 1."""
    if "SPMD_CPU_DEVICES" in os.environ:
        return _env_int("SPMD_CPU_DEVICES", 1, 1)
    flag = "--xla_force_host_platform_device_count="
    for word in os.environ.get("XLA_FLAGS", "").split():
        if word.startswith(flag):
            return _whole_number(word[len(flag):], f"XLA_FLAGS {flag}", 1)
    return 1


def _env_choice(option: str, default: str) -> str:
    if option.startswith("transfer_guard_"):  # JAX_TRANSFER_GUARD sets every direction
        default = _env_choice("transfer_guard", default)
    return os.environ.get("JAX_" + option.upper(), default).strip().lower() or default


# the settings that take one of a few names, and those names (the first is the default)
CHOICES = {
    "numpy_dtype_promotion": ("standard", "strict"),
    "numpy_rank_promotion": ("allow", "warn", "raise"),
    "legacy_prng_key": ("allow", "warn", "error"),
    **{f"transfer_guard{kind}": ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
       for kind in ("", "_host_to_device", "_device_to_device", "_device_to_host")},
}
TRANSFER_DIRECTIONS = ("host_to_device", "device_to_device", "device_to_host")


def _check_choice(option: str, value):
    if value not in CHOICES[option]:
        raise ValueError(f"jax_{option} must be one of {list(CHOICES[option])}, got {value!r}")


def _check_platforms(option: str, value):
    names = [] if value is None else [p.strip() for p in str(value).split(",") if p.strip()]
    if names and "cpu" not in names:
        raise ValueError(f"jax_{option} {value!r} asks for a backend spmd does not have: spmd runs "
                         "on XLA's CPU devices only; set it to 'cpu' (or leave it unset)")


class Config:
    def __init__(self):
        self.values = {
            "enable_x64": _env_flag("SPMD_ENABLE_X64") or _env_flag("JAX_ENABLE_X64"),
            "cpu_devices": _cpu_device_count(),
            "compilation_cache_dir": os.environ.get("SPMD_COMPILATION_CACHE_DIR", ""),
            "max_inflight_executions": _env_int("SPMD_MAX_INFLIGHT", 2, 1),
            "cross_process_collectives": os.environ.get("SPMD_CROSS_PROCESS_COLLECTIVES",
                                                        "auto"),
            "cache_size": _env_int("SPMD_CACHE_SIZE", 4096, 1),
            "check_call_order": _env_on_unless_off("SPMD_CHECK_CALL_ORDER"),
            # spmd.random's stream layout, as JAX's flag (on by default since JAX 0.5)
            "threefry_partitionable": _env_on_unless_off("JAX_THREEFRY_PARTITIONABLE"),
            "disable_jit": _env_flag("SPMD_DISABLE_JIT") or _env_flag("JAX_DISABLE_JIT"),
            # which PRNG new keys use (spmd/random/impls.py checks the name when it is used)
            "default_prng_impl": os.environ.get("JAX_DEFAULT_PRNG_IMPL", "threefry2x32"),
            "platform_name": os.environ.get("JAX_PLATFORM_NAME", ""),
            "platforms": os.environ.get("JAX_PLATFORMS", ""),
            "debug_nans": False,
            "debug_infs": False,
            "default_device": None,
            "log_compiles": _env_flag("JAX_LOG_COMPILES"),
            "explain_cache_misses": _env_flag("JAX_EXPLAIN_CACHE_MISSES"),
            "enable_checks": _env_flag("JAX_ENABLE_CHECKS"),
            "check_tracer_leaks": _env_flag("JAX_CHECK_TRACER_LEAKS"),
            "enable_custom_prng": _env_flag("JAX_ENABLE_CUSTOM_PRNG"),
            "softmax_custom_jvp": _env_flag("JAX_SOFTMAX_CUSTOM_JVP"),
            "allow_f16_reductions": _env_on_unless_off("JAX_ALLOW_F16_REDUCTIONS"),
            **{option: _env_choice(option, names[0]) for option, names in CHOICES.items()},
        }
        self._listeners = {}
        for option in ("platform_name", "platforms"):
            self.on_change(option, partial(_check_platforms, option))
        for option in CHOICES:
            _check_choice(option, self.values[option])  # a bad JAX_ variable fails at import
            self.on_change(option, partial(_check_choice, option))
        self.on_change("transfer_guard", self._set_every_transfer_guard)

    def _set_every_transfer_guard(self, value):
        """jax_transfer_guard sets the guard of every direction (read them one by one)."""
        for direction in TRANSFER_DIRECTIONS:
            self.update(f"transfer_guard_{direction}", value)

    def update(self, name: str, value):
        """Change a setting: `spmd.config.update("enable_x64", True)`. JAX's `jax_` prefix is
        accepted."""
        key = name[4:] if name.startswith("jax_") else name
        if key not in self.values:
            raise ValueError(f"unknown spmd config option {name!r}; "
                             f"known options: {sorted(self.values)}")
        previous, self.values[key] = self.values[key], value
        try:
            for listener in self._listeners.get(key, ()):
                listener(value)  # a listener refuses a bad value by raising
        except Exception:
            self.values[key] = previous  # ...and the setting keeps its last good value
            raise

    def read(self, name: str):
        """The value of a setting, as JAX's `config.read("jax_enable_x64")`."""
        return getattr(self, name)

    def on_change(self, name: str, listener):
        self._listeners.setdefault(name, []).append(listener)

    def __getattr__(self, name):
        values = self.__dict__.get("values", {})
        key = name[4:] if name.startswith("jax_") else name
        if key in values:
            return values[key]
        raise AttributeError(f"spmd.config has no option {name!r}")


config = Config()
