"""Derivatives of every differentiable lax operation of the table (lax_cases.py), in float64:
forward and reverse mode against central finite differences, to second order, at several
points (tests/oracles.check_grads); and for each linear operation its transpose, by the identity
<ct, f(x)> = <f^T(ct), x> with f^T from spmd.vjp."""
import numpy as np
import pytest

import spmd
from tests.oracles import check_grads
from tests.transforms.lax_cases import CASES, F, Operand, cases
from spmd.transforms import dtypes, tree_util

POINTS = (0, 1, 2)


def _holding_fixed(case, args, free):
    """fn as a function of the arguments at positions `free`, the others held at `args`; only
    its inexact outputs (integer outputs such as sort keys carry no derivative)."""
    def f(*xs):
        full = list(args)
        for i, x in zip(free, xs):
            full[i] = x
        leaves = tree_util.tree_leaves(case.fn(*full))
        return [y for y in leaves if dtypes.is_inexact(np.dtype(y.dtype))]
    return f


@pytest.mark.parametrize("case", cases(lambda c: c.differentiable))
def test_grads_match_finite_differences(case, x64):
    free = [i for i, a in enumerate(case.args) if isinstance(a, Operand)]
    for seed in POINTS:
        args = case.draw(np.dtype(np.float64), seed)
        check_grads(_holding_fixed(case, args, free), [args[i] for i in free],
                    order=case.grad_order)


def _pairing(u, v):
    """The real bilinear pairing JAX's transposes are taken against: Re(sum(u * v))."""
    return float(np.real(np.sum(np.asarray(u, np.complex128) * np.asarray(v, np.complex128))))


@pytest.mark.parametrize("case, group", [pytest.param(c, g, id=f"{c.name}-{'-'.join(map(str, g))}")
                                         for c in CASES for g in c.linear])
def test_transpose_identity(case, group, x64):
    dtype = np.dtype(np.float64 if any(d in F for d in case.dtypes) else np.complex128)
    args = case.draw(dtype)
    f = _holding_fixed(case, args, group)
    out, f_transpose = spmd.vjp(f, *[args[i] for i in group])
    rng = np.random.default_rng(1)
    cts = [(rng.standard_normal(np.shape(o)) + (1j * rng.standard_normal(np.shape(o))
            if dtypes.is_complex(np.dtype(o.dtype)) else 0)).astype(o.dtype) for o in out]
    lhs = sum(_pairing(c, o) for c, o in zip(cts, out))
    rhs = sum(_pairing(c, args[i]) for c, i in zip(f_transpose(cts), group))
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10), \
        f"<ct, f(x)> = {lhs} != <f^T(ct), x> = {rhs}"
