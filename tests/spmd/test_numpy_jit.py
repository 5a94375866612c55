"""jit == eager for every traceable function of the table: the staged, fused program computes
what the one-op-at-a-time eager execution computes (in each case's first dtype)."""
import pytest

import spmd
from tests.oracles import assert_close
from tests.spmd.numpy_cases import DTYPES, cases


@pytest.mark.parametrize("case", cases(lambda c: c.traceable))
def test_jit_matches_eager(case):
    args = case.draw(DTYPES[case.dtypes[0]])
    assert_close(spmd.jit(case.fn)(*args), case.fn(*args))
