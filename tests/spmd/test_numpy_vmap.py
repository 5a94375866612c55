"""vmap == the loop for every traceable function of the table: the X arguments get a batch axis
(in front for every other case, second for the rest), the fixed-type ones (indices, masks) stay
unbatched."""
import numpy as np
import pytest

import spmd
from tests.oracles import check_mapped
from tests.spmd.numpy_cases import DTYPES, X, cases

BATCH = 3


def _batched_args(case, axis):
    dtype = DTYPES[case.dtypes[0]]
    draws = [case.draw(dtype, seed_extra=i) for i in range(BATCH)]
    args, in_axes = [], []
    for i, spec in enumerate(case.args):
        if isinstance(spec, X):
            ax = min(axis, len(spec.shape))
            args.append(np.stack([d[i] for d in draws], axis=ax))
            in_axes.append(ax)
        else:
            args.append(draws[0][i])
            in_axes.append(None)
    return args, tuple(in_axes)


TRACEABLE = cases(lambda c: c.traceable)


@pytest.mark.parametrize("case, axis", [pytest.param(p.values[0], i % 2, id=f"{p.id}-axis{i % 2}")
                                        for i, p in enumerate(TRACEABLE)])
def test_vmap_matches_loop(case, axis):
    args, in_axes = _batched_args(case, axis)
    check_mapped(spmd.jit(spmd.vmap(case.fn, in_axes)), spmd.jit(case.fn), args, in_axes)
