"""Every collective under pmap against NumPy on the gathered inputs: several dtypes, axis sizes
1, 2, 4 and 8 (mapping fewer elements than there are devices, or over explicit devices=), and
axis_index_groups."""
import numpy as np
import pytest

import spmd
from tests.collectives.cases import CASES, groups_for, inputs
from tests.oracles import assert_close


def _params():
    for case in CASES:
        for dtype in case.dtypes:
            for n in (1, 2, 4, 8):
                yield pytest.param(case, dtype, n, None, id=f"{case}-{np.dtype(dtype).name}-n{n}")
        if case.grouped:
            for n in (4, 8):
                yield pytest.param(case, case.dtypes[0], n, groups_for(n), id=f"{case}-groups-n{n}")


@pytest.mark.parametrize("case,dtype,n,groups", list(_params()))
def test_collective_under_pmap(case, dtype, n, groups):
    X = inputs(case, n, dtype, groups)
    # two participants run on the last two devices in reverse order: replica k is devices[k]
    devices = spmd.devices()[-2:][::-1] if n == 2 else None
    f = spmd.pmap(lambda x: case.fun(x, "i", groups), axis_name="i", devices=devices)
    out = f(X)
    assert_close(out, case.oracle(X, groups))
    if devices is not None:
        assert out.sharding_devices == list(devices)
