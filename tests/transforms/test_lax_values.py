"""Every lax operation of the table (lax_cases.py), run eagerly, against NumPy: in each dtype the
operation accepts, and in float64 with 64-bit types on."""
import pytest

from tests.oracles import assert_close
from tests.transforms.lax_cases import DTYPES, case_dtypes, cases


@pytest.mark.parametrize("case, dtype", case_dtypes())
def test_matches_numpy(case, dtype):
    args = case.draw(DTYPES[dtype])
    assert_close(case.fn(*args), case.expected(args, DTYPES[dtype]))


WIDE = {"float32": "float64", "complex64": "complex128"}


@pytest.mark.parametrize("case", cases(lambda c: "float32" in c.dtypes or "complex64" in c.dtypes))
def test_matches_numpy_in_64_bits(case, x64):
    dtype = DTYPES[WIDE["float32" if "float32" in case.dtypes else "complex64"]]
    args = case.draw(dtype)
    assert_close(case.fn(*args), case.expected(args, dtype))
