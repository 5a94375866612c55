"""Gradients of the differentiable functions of the table against central finite differences
in float64, and forward against reverse mode (tests/oracles.py check_grads); to second order
for the functions whose second derivatives take their own code paths."""
import numpy as np
import pytest

from tests.oracles import check_grads
from tests.spmd.numpy_cases import cases


SECOND_ORDER = {"prod", "max", "var", "cumprod", "matmul", "einsum[ij,jk,kl->il]", "take",
                "sort", "logaddexp", "hypot", "where", "average", "std"}


@pytest.mark.parametrize("case", cases(lambda c: c.grad and c.traceable and "float32" in c.dtypes))
def test_gradients(case, x64):
    args = case.draw(np.dtype(np.float64))
    positions = case.diff_positions

    def f(*xs):
        full = list(args)
        for p, x in zip(positions, xs):
            full[p] = x
        return case.fn(*full)
    order = 2 if case.name.split("{")[0] in SECOND_ORDER else 1
    check_grads(f, [args[p] for p in positions], order=order)
