"""split and fold_in: new keys from a key, typed in, typed out; raw in, raw out."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.random import impls
from spmd.random.keys import check_key, rewrap
from spmd.random.seeds import UINT32
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit


def split(key, num=2):
    """`num` new keys (or an array of keys of shape `num` when it is a tuple), independent of
    each other and of `key`."""
    data, typed, impl = check_key("split", key)
    shape = tuple(num) if isinstance(num, (tuple, list)) else (num,)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise TypeError(f"split: num must be a non-negative int or a tuple of them, got {num!r}")
    return rewrap(typed, _split(data, tuple(int(n) for n in shape), impls.layout(impl)), impl)


@partial(jit, static_argnums=(1, 2))
def _split(key, shape, layout):
    return impls.split(key, shape, layout)


def fold_in(key, data):
    """A new key that is a deterministic function of `key` and the 32-bit integer `data`
    (a step number, a device index ...), statistically independent of `key`'s other uses."""
    key_data, typed, impl = check_key("fold_in", key)
    if np.ndim(data):
        raise TypeError(f"fold_in accepts a scalar, but was given an array of shape "
                        f"{np.shape(data)} != (). Use spmd.vmap for batching.")
    if isinstance(data, int) and not isinstance(data, bool) and not 0 <= data < 2 ** 32:
        raise OverflowError(f"fold_in: data {data} does not fit in uint32")
    if not dtypes.is_integer(core.get_aval(data).dtype):
        raise TypeError(f"fold_in: data must be an integer, got dtype {core.get_aval(data).dtype}")
    folded = np.uint32(data) if isinstance(data, int) else lax.convert_element_type(data, UINT32)
    return rewrap(typed, _fold_in(key_data, folded, impls.layout(impl)), impl)


@partial(jit, static_argnums=(2,))
def _fold_in(key, data, layout):
    return impls.fold_in(key, data, layout)
