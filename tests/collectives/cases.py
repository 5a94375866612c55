"""The collectives under test, as one table shared by the test of each transform.

A case runs one collective per participant, `fun(x, axis_name, groups)`, and has a NumPy oracle
`oracle(X, groups)` computed on the gathered inputs: X stacks the participants' values along
axis 0 (participant k at row k), and the oracle returns the results stacked the same way. The
per-participant input shape may depend on the number of participants in a group (`shape(g)`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from spmd import lax
from spmd.transforms import dtypes

F32, I32, BOOL, BF16 = (np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_),
                        dtypes.bfloat16)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fun: Callable  # fun(x, axis_name, groups) on one participant
    oracle: Callable  # oracle(X, groups) on all of them
    shape: Callable[[int], tuple]  # per-participant input shape, given the group size
    dtypes: tuple = (F32,)
    differentiable: bool = True
    grouped: bool = True  # accepts axis_index_groups
    multi_name: bool = True  # works over several names, one of them vmapped

    def __str__(self):
        return self.name


def groups_for(n: int):
    """Groups that are not contiguous and not in order, so that order mistakes show."""
    return {4: [[1, 0], [3, 2]], 8: [[0, 2, 4, 6], [7, 5, 3, 1]]}[n]


def per_participant(X, groups, f):
    """Stack f(the group's values in group order, this participant's position) over all."""
    n = X.shape[0]
    out = [None] * n
    for g in groups or [list(range(n))]:
        for pos, k in enumerate(g):
            out[k] = f(X[list(g)], pos)
    return np.stack(out)


def _reduce(np_fn):
    return lambda X, groups: per_participant(X, groups, lambda G, p: np_fn(G, axis=0).astype(
        G.dtype))


def _mean(X, groups):
    dtype = X.dtype if np.issubdtype(X.dtype, np.inexact) else np.float32
    return per_participant(X.astype(np.float64), groups, lambda G, p: G.mean(0)).astype(dtype)


def _a2a_blocks(G, p, split, concat, tiled):
    """What participant p receives in an all_to_all among the group's values G."""
    g = G.shape[0]
    if not tiled:
        return np.stack([np.take(G[j], p, axis=split) for j in range(g)], axis=concat)
    blocks = [np.split(G[j], g, axis=split)[p] for j in range(g)]
    return np.concatenate(blocks, axis=concat)


def _permuted(X, perm):
    out = np.zeros_like(X)
    for s, d in perm:
        out[d] = X[s]
    return out


def _shift(n):
    return [(k, (k + 1) % n) for k in range(n)]


CASES = [
    Case("psum", lambda x, ax, g: lax.psum(x, ax, axis_index_groups=g), _reduce(np.sum),
         lambda g: (2, 3), (F32, I32, BF16)),
    Case("pmean", lambda x, ax, g: lax.pmean(x, ax, axis_index_groups=g), _mean,
         lambda g: (3,), (F32, I32)),
    Case("pmax", lambda x, ax, g: lax.pmax(x, ax, axis_index_groups=g), _reduce(np.max),
         lambda g: (2, 3), (F32, I32)),
    Case("psum_scalar", lambda x, ax, g: lax.psum(x, ax, axis_index_groups=g), _reduce(np.sum),
         lambda g: ()),
    Case("pmin", lambda x, ax, g: lax.pmin(x, ax, axis_index_groups=g), _reduce(np.min),
         lambda g: (3,), (F32, BOOL)),
    Case("all_gather", lambda x, ax, g: lax.all_gather(x, ax, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: G), lambda g: (2, 3),
         (F32, I32)),
    Case("all_gather_scalar", lambda x, ax, g: lax.all_gather(x, ax, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: G), lambda g: ()),
    Case("all_gather_axis1", lambda x, ax, g: lax.all_gather(x, ax, axis_index_groups=g, axis=1),
         lambda X, groups: per_participant(X, groups, lambda G, p: np.stack(list(G), axis=1)),
         lambda g: (2, 3)),
    Case("all_gather_tiled", lambda x, ax, g: lax.all_gather(x, ax, axis_index_groups=g,
                                                             axis=1, tiled=True),
         lambda X, groups: per_participant(X, groups, lambda G, p: np.concatenate(list(G), 1)),
         lambda g: (2, 3)),
    Case("psum_scatter", lambda x, ax, g: lax.psum_scatter(x, ax, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: G.sum(0)[p]),
         lambda g: (g, 3)),
    Case("psum_scatter_tiled", lambda x, ax, g: lax.psum_scatter(
        x, ax, scatter_dimension=1, axis_index_groups=g, tiled=True),
         lambda X, groups: per_participant(X, groups, lambda G, p: G.sum(0)[:, 2 * p:2 * p + 2]),
         lambda g: (3, 2 * g)),
    Case("all_to_all", lambda x, ax, g: lax.all_to_all(x, ax, 0, 0, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: _a2a_blocks(G, p, 0, 0, False)),
         lambda g: (g, 3), (F32, I32), multi_name=False),
    Case("all_to_all_moved", lambda x, ax, g: lax.all_to_all(x, ax, 1, 0, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: _a2a_blocks(G, p, 1, 0, False)),
         lambda g: (3, g), multi_name=False),
    Case("all_to_all_tiled", lambda x, ax, g: lax.all_to_all(x, ax, 0, 1, axis_index_groups=g,
                                                             tiled=True),
         lambda X, groups: per_participant(X, groups, lambda G, p: _a2a_blocks(G, p, 0, 1, True)),
         lambda g: (2 * g, 3), multi_name=False),
    Case("pswapaxes", lambda x, ax, g: lax.pswapaxes(x, ax, 1, axis_index_groups=g),
         lambda X, groups: per_participant(X, groups, lambda G, p: _a2a_blocks(G, p, 1, 1, False)),
         lambda g: (3, g), multi_name=False),
    Case("ppermute_shift", lambda x, ax, g: lax.ppermute(x, ax, _shift(lax.psum(1, ax))),
         lambda X, groups: _permuted(X, _shift(X.shape[0])), lambda g: (2, 3), (F32, I32),
         grouped=False, multi_name=False),
    Case("ppermute_partial", lambda x, ax, g: lax.ppermute(x, ax, [(0, lax.psum(1, ax) - 1)]),
         lambda X, groups: _permuted(X, [(0, X.shape[0] - 1)]), lambda g: (3,),
         grouped=False, multi_name=False),
    Case("pshuffle", lambda x, ax, g: lax.pshuffle(x, ax, list(range(lax.psum(1, ax)))[::-1]),
         lambda X, groups: X[::-1], lambda g: (3,), grouped=False, multi_name=False),
    Case("axis_index", lambda x, ax, g: lax.axis_index(ax),
         lambda X, groups: np.arange(X.shape[0], dtype=np.int32), lambda g: (2,),
         differentiable=False, grouped=False),
]


def random_input(rng, shape, dtype):
    """Values whose reductions are exact in the dtype (small integers), with distinct entries
    so that pmax/pmin have no ties."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size // 2).astype(dtype)


def inputs(case: Case, n: int, dtype, groups=None, seed=0):
    """The stacked inputs of `n` participants (distinct across participants too)."""
    g = len(groups[0]) if groups else n
    rng = np.random.default_rng(seed)
    return random_input(rng, (n,) + case.shape(g), dtype)
