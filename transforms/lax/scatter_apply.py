"""jax.lax.scatter_apply: a scalar function applied to the elements of an array at scattered
positions, once per update that lands there (as XLA's scatter with that function as its
update computation: an index given twice gets the function twice)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.transforms import core
from spmd.transforms.api import vmap
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.gather_scatter import scatter_add
from spmd.transforms.lax.reductions import reduce_max
from spmd.transforms.lax.structural import reshape


def scatter_apply(operand, scatter_indices, func: Callable, dimension_numbers, *,
                  update_shape=(), indices_are_sorted=False, unique_indices=False, mode=None):
    """jax.lax.scatter_apply. `update_shape` is the shape the updates would have (the scatter
    indices' batch shape and the window). Counts the hits per element with a scatter_add of
    ones, then applies `func` (traced on one scalar, mapped over the elements) where the count
    exceeds each round's number; with unique_indices there is one round."""
    aval = core.get_aval(operand)
    hits = scatter_add(ew.full(aval.shape, 0, np.int32), scatter_indices,
                       ew.full(tuple(update_shape), 1, np.int32), dimension_numbers,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                       mode=mode)
    elementwise = vmap(func)

    def round_(k, x):
        applied = reshape(elementwise(reshape(x, (aval.size,))), aval.shape)
        return ew.select(ew.gt(hits, ew.full(aval.shape, k, np.int32)), applied, x)
    if unique_indices:
        return round_(0, operand)
    rounds = reduce_max(hits, tuple(range(aval.ndim))) if aval.ndim else hits
    return fori_loop(0, rounds, round_, operand)
