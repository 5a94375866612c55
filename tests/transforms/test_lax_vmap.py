"""vmap of every lax operation of the table (lax_cases.py) equals the loop over the mapped axis
(tests/oracles.check_mapped), for several in_axes/out_axes: everything mapped along axis 0; only
the first argument mapped, along its last axis, with the result mapped along its last axis; and
the first argument unmapped with the others mapped (a batched start index with a shared operand,
a batched padding value, ...)."""
import numpy as np
import pytest

import spmd
from tests.oracles import check_mapped
from tests.transforms.lax_cases import CASES, DTYPES

SIZE = 3  # examples per batch


def _configs(case):
    n = len(case.args)
    last = len(case.args[0].shape)  # the new axis goes after the existing ones
    layouts = {"leading": ((0,) * n, 0),
               "first_at_last_axis": ((last,) + (None,) * (n - 1), -1),
               "first_unmapped": ((None,) + (0,) * (n - 1), 0)}
    for name in case.vmap_configs:
        if name != "first_unmapped" or n > 1:
            yield (name,) + layouts[name]


def _batched(case, dtype, in_axes):
    """Each argument: SIZE draws stacked along its mapped axis (one draw if unmapped)."""
    draws = [case.draw(dtype, seed) for seed in range(SIZE)]
    return [draws[0][i] if axis is None else np.stack([d[i] for d in draws], axis)
            for i, axis in enumerate(in_axes)]


PARAMS = [pytest.param(c, in_axes, out_axes, id=f"{c.name}-{name}")
          for c in CASES if c.vmap for name, in_axes, out_axes in _configs(c)]


@pytest.mark.parametrize("case, in_axes, out_axes", PARAMS)
def test_vmap_matches_loop(case, in_axes, out_axes):
    dtype = DTYPES[case.dtypes[0]]
    args = _batched(case, dtype, in_axes)
    mapped = spmd.jit(spmd.vmap(case.fn, in_axes=in_axes, out_axes=out_axes))
    check_mapped(mapped, case.fn, args, in_axes=in_axes, out_axes=out_axes)
