"""Every lax operation of the table (lax_cases.py) under jit equals the same operation run
eagerly (one compiled program against one program per operation), in the case's first dtype."""
import pytest

import spmd
from tests.oracles import assert_close
from tests.transforms.lax_cases import DTYPES, cases


@pytest.mark.parametrize("case", cases())
def test_jit_matches_eager(case):
    args = case.draw(DTYPES[case.dtypes[0]])
    assert_close(spmd.jit(case.fn)(*args), case.fn(*args))
