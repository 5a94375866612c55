"""The caches of traced and compiled programs: one bounded type, and `clear_caches()`.

Every cache of the project is an `LRUCache`: a dict that keeps at most `maxsize` entries and
forgets the least recently used one first. Each registers itself when it is made, so
`clear_caches()` (as `jax.clear_caches()`: the next call of a jitted function traces, lowers and
compiles anew) reaches every one of them, those of the layers above transforms included,
without knowing who made them. A cache made without its own `maxsize` holds at most
`config.cache_size` entries (env SPMD_CACHE_SIZE, default 4096; `spmd.config.update(
"cache_size", n)` trims every such cache at once). `cached(fun)` memoizes a function in one.
"""
from __future__ import annotations

import collections
import functools
import threading
import weakref

from spmd.transforms.config import config

_MISSING = object()


class LRUCache:
    """A mapping bounded to `maxsize` entries (None: `config.cache_size`) that evicts the least
    recently used entry. Safe to share between threads: a lookup and an eviction racing each
    other cost a recomputation at worst."""
    __slots__ = ("name", "_maxsize", "_data", "_lock", "peek", "compiled_only", "__weakref__")

    def __init__(self, name: str, maxsize: int | None = None, *, compiled_only: bool = False):
        self.name = name
        self._maxsize = maxsize
        # holds executables keyed by their program (text, or a primitive with its types):
        # valid whatever the settings that change how Python code traces
        self.compiled_only = compiled_only
        self._data: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        # `peek(key)`: a lookup that leaves the order alone, at the cost of a dict lookup (a
        # third of `get`'s) for jit's repeat calls, whose table would then forget its oldest
        # entry first; what it forgets the slower path finds and puts back.
        self.peek = self._data.get
        _registry.add(self)

    @property
    def maxsize(self) -> int:
        return max(int(config.cache_size), 1) if self._maxsize is None else self._maxsize

    def get(self, key, default=None):
        data = self._data
        try:
            value = data[key]
            data.move_to_end(key)
        except KeyError:  # absent, or evicted by another thread between the two lines
            return default
        return value

    def __setitem__(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            self._trim(self.maxsize)

    def _trim(self, maxsize: int):
        while len(self._data) > max(maxsize, 0):
            self._data.popitem(last=False)

    def clear(self):
        with self._lock:
            self._data.clear()

    def __len__(self):
        return len(self._data)

    def keys(self) -> list:
        with self._lock:
            return list(self._data)

    def __contains__(self, key):
        return key in self._data

    def __repr__(self):
        return f"LRUCache({self.name!r}, {len(self)}/{self.maxsize} entries)"


_registry: "weakref.WeakSet[LRUCache]" = weakref.WeakSet()


def registered() -> list[LRUCache]:
    """Every live cache."""
    return list(_registry)


def clear_caches() -> None:
    """Forget every traced and compiled program kept in memory (the on-disk cache of
    executables stays)."""
    for cache in registered():
        cache.clear()


def clear_traces() -> None:
    """Forget every traced program (jit's, pmap's, control-flow bodies...), keeping the
    executables compiled from program text: for a setting that changes how code traces."""
    for cache in registered():
        if not cache.compiled_only:
            cache.clear()


def _apply_cache_size(size):
    if int(size) < 1:
        raise ValueError(f"spmd.config cache_size must be at least 1, got {size}")
    for cache in registered():
        if cache._maxsize is None:
            with cache._lock:
                cache._trim(int(size))


config.on_change("cache_size", _apply_cache_size)


def cached(fun):
    """`fun` memoized on its arguments (all hashable) in an LRUCache of its own."""
    cache = LRUCache(f"{fun.__module__}.{fun.__qualname__}")

    @functools.wraps(fun)
    def memoized(*args, **kwargs):
        key = args + (_MISSING,) + tuple(sorted(kwargs.items())) if kwargs else args
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = fun(*args, **kwargs)
            cache[key] = value
        return value
    memoized.cache = cache
    return memoized


# jit keys its traces by argument types, not by these settings, which change what a trace
# records (JAX keys its traces by them too): programs traced before a change are forgotten
for _option in ("numpy_dtype_promotion", "numpy_rank_promotion", "softmax_custom_jvp"):
    config.on_change(_option, lambda _value: clear_traces())
