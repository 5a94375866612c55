"""The caches: bounded (least recently used goes first), all emptied by clear_caches(), and
sized by config.cache_size."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.transforms import caches
from tests.oracles import assert_close
from tests.transforms.test_jit import counting


@pytest.fixture
def cache_size():
    """Set config.cache_size for one test and restore it after."""
    before = spmd.config.cache_size
    yield lambda n: spmd.config.update("cache_size", n)
    spmd.config.update("cache_size", before)


def test_lru_cache_evicts_the_least_recently_used():
    cache = caches.LRUCache("test", maxsize=2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "a" is now more recent than "b"
    cache["c"] = 3
    assert "b" not in cache and cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
    assert cache.peek("a") == 1  # a peek leaves "a" the least recently used
    cache["d"] = 4
    assert (cache.peek("a"), cache.peek("c"), cache.peek("d")) == (None, 3, 4)
    cache.clear()
    assert len(cache) == 0 and cache.get("c", "missing") == "missing" and cache.peek("d") is None


def test_cached_memoizes_by_arguments():
    square, calls = counting(lambda x, y=0: x * x + y)
    memo = caches.cached(square)
    assert [memo(3), memo(3), memo(4), memo(3, y=1), memo(3, y=1)] == [9, 9, 16, 10, 10]
    assert len(calls) == 3
    spmd.clear_caches()
    assert memo(3) == 9 and len(calls) == 4


def test_clear_caches_empties_every_cache():
    x = np.arange(8, dtype=np.float32).reshape(8, 1)
    spmd.jit(lambda v: v * 2)(jnp.asarray(x))
    jnp.sin(jnp.asarray(x))
    spmd.lax.scan(lambda c, v: (c + v, c), jnp.zeros(1), jnp.asarray(x))
    spmd.pmap(lambda v: spmd.lax.psum(v, "i"), axis_name="i")(x)
    filled = {c.name for c in caches.registered() if len(c)}
    assert {"compiled executables", "eager one-op executables", "pmap signatures"} <= filled
    spmd.clear_caches()
    assert [c for c in caches.registered() if len(c)] == []


def test_cache_size_bounds_every_cache(cache_size):
    f, calls = counting(lambda v: v + 1)
    jf = spmd.jit(f)
    shapes = [(1,), (2,), (3,)]
    for s in shapes:
        jf(np.zeros(s, np.float32))
    jf(np.zeros((1,), np.float32))
    assert len(calls) == 3  # the default size keeps all three signatures
    cache_size(2)
    assert all(len(c) <= 2 for c in caches.registered() if c.name.startswith("jit "))
    # the trim dropped (2,), the least recently used; each call now evicts the next one wanted
    for s in [(2,), (3,), (1,)]:
        assert_close(jf(np.zeros(s, np.float32)), np.ones(s, np.float32))
    assert len(calls) == 6
    assert all(len(c) <= 2 for c in caches.registered() if c.maxsize == 2)


def test_cache_size_must_be_positive(cache_size):
    with pytest.raises(ValueError, match="cache_size must be at least 1, got 0"):
        cache_size(0)
    assert spmd.config.cache_size >= 1  # the refused value is not kept
