"""Every collective in a pmap inside jit (run there as a shard_map over the pmap's devices,
whose collectives name the mesh axis) against NumPy on the gathered inputs, with and without
axis_index_groups."""
import pytest

import spmd
from tests.collectives.cases import CASES, groups_for, inputs
from tests.oracles import assert_close


def _params():
    for case in CASES:
        groups = groups_for(4) if case.grouped else None
        yield pytest.param(case, groups, id=f"{case}-{'groups' if groups else 'whole axis'}")


@pytest.mark.parametrize("case,groups", list(_params()))
def test_collective_in_a_jitted_pmap(case, groups):
    X = inputs(case, 4, case.dtypes[0], groups)
    f = spmd.jit(spmd.pmap(lambda x: case.fun(x, "i", groups), axis_name="i"))
    assert_close(f(X), case.oracle(X, groups))
