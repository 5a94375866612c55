"""clear_caches(): forget every traced and compiled program, as `jax.clear_caches()` does, so
that the next call of a jitted function traces, lowers and compiles anew (for measuring compile
time, or to free the memory that executables hold)."""
from __future__ import annotations

import functools
import sys

from spmd.transforms import backend, eager
from spmd.transforms.jit import live_jit_functions

_PACKAGES = ("spmd",)
_clear_hooks: list = []


def on_clear(hook):
    """Register `hook()` to run in clear_caches (for caches of the layers above transforms,
    which this module may not import)."""
    _clear_hooks.append(hook)
    return hook


def clear_caches() -> None:
    for fun in list(live_jit_functions):
        fun._cache.clear()
        fun._fast.clear()
        fun._fast_tree.clear()
    # Every functools.lru_cache of the project (traced sub-programs, jvp/partial-eval programs,
    # compiled programs), found by walking the loaded modules so that a new cache is never missed.
    for name, module in list(sys.modules.items()):
        if module is None or name.partition(".")[0] not in _PACKAGES:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, functools._lru_cache_wrapper):
                obj.cache_clear()
    for hook in _clear_hooks:
        hook()
    eager.clear_cache()
    backend.clear_caches()
