"""The PRNG implementations JAX ships, by name, and the three operations every sampler is built
on (split, fold_in, random_bits), dispatched on the implementation.

A key's implementation travels with it: a typed key names it; a raw uint32 key is read with the
default implementation (`spmd.config.default_prng_impl`, JAX_DEFAULT_PRNG_IMPL, or the
`spmd.default_prng_impl` context). Samplers are compiled once per `layout(impl)`, which names
the implementation and the settings that change its bits."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from spmd.random import philox, rbg, streams, threefry4x32
from spmd.random.seeds import threefry_seed
from spmd.transforms import dtypes
from spmd.transforms.config import config


@dataclass(frozen=True)
class PRNGImpl:
    """One PRNG: its key data is uint32 of `key_shape`; `seed(ctor, seed)` makes a key,
    `split(key, shape)` keys of `shape`, `fold_in(key, uint32)` one key, and
    `random_bits(key, bit_width, shape)` unsigned bits."""
    name: str
    tag: str
    key_shape: tuple
    seed: Callable
    split: Callable
    fold_in: Callable
    random_bits: Callable

    def __str__(self):
        return self.tag


prngs: dict[str, PRNGImpl] = {impl.name: impl for impl in [
    PRNGImpl("threefry2x32", "fry", (2,), threefry_seed, streams.split, streams.fold_in,
             streams.random_bits),
    PRNGImpl("rbg", "rbg", (4,), rbg.rbg_seed, rbg.rbg_split, rbg.rbg_fold_in,
             rbg.rbg_random_bits),
    PRNGImpl("unsafe_rbg", "urbg", (4,), rbg.rbg_seed, rbg.unsafe_rbg_split,
             rbg.unsafe_rbg_fold_in, rbg.rbg_random_bits),
    PRNGImpl("philox2x32", "phx2", (1,), philox.philox2x32_seed, philox.philox2x32_split,
             philox.philox2x32_fold_in, philox.philox2x32_random_bits),
    PRNGImpl("philox4x32", "phx4", (2,), philox.philox4x32_seed, philox.philox4x32_split,
             philox.philox4x32_fold_in, philox.philox4x32_random_bits),
    PRNGImpl("threefry4x32", "fry4", (4,), threefry4x32.threefry4x32_seed,
             threefry4x32.threefry4x32_split, threefry4x32.threefry4x32_fold_in,
             threefry4x32.threefry4x32_random_bits),
]}
_NOT_IMPLEMENTED: tuple = ()  # JAX's implementations that spmd lacks


def _check_name(name) -> str:
    if name in _NOT_IMPLEMENTED:
        raise NotImplementedError(f"spmd does not implement the PRNG {name!r} yet; it has "
                                  f"{sorted(prngs)}")
    if name not in prngs:
        raise ValueError(f"unrecognized PRNG implementation {name!r}; spmd has "
                         f"{sorted(prngs)}")
    return name


config.on_change("default_prng_impl", _check_name)


def resolve(impl=None) -> PRNGImpl:
    """The implementation named by `impl` (a name, a PRNGImpl, or None for the default)."""
    if impl is None:
        return prngs[_check_name(config.default_prng_impl)]
    if isinstance(impl, PRNGImpl):
        return impl
    return prngs[_check_name(impl)]


@contextlib.contextmanager
def default_prng_impl(name: str):
    """`with spmd.default_prng_impl("rbg"):` keys made inside use that implementation (JAX's
    context manager of the same name)."""
    previous = config.default_prng_impl
    config.update("default_prng_impl", name)
    try:
        yield
    finally:
        config.update("default_prng_impl", previous)


def layout(impl: PRNGImpl):
    """What decides which bits a key gives (and so what a sampler traces to): part of every
    compiled sampler's signature."""
    return (impl.name, config.threefry_partitionable, config.enable_x64)


def random_bits(key, bit_width: int, shape, layout):
    """uint`bit_width` random values of `shape` from the key data of layout's implementation."""
    if bit_width not in streams.UINT_DTYPES:
        raise TypeError(f"random bits come in widths 8, 16, 32 or 64, not {bit_width}")
    if bit_width == 64 and dtypes.canonicalize(np.uint64) != np.uint64:
        raise TypeError("64-bit random values need spmd.config.update('jax_enable_x64', True)")
    return prngs[layout[0]].random_bits(key, bit_width, tuple(shape))


def split(key, shape, layout):
    """Key data of `shape` new keys from one key."""
    return prngs[layout[0]].split(key, tuple(shape))


def fold_in(key, data, layout):
    """Key data of the key made by folding the uint32 scalar `data` into `key`."""
    return prngs[layout[0]].fold_in(key, data)
