"""jax.lax.linalg's tridiagonal_solve (LAPACK's gtsv) and symmetric_product (alpha A A^T +
beta C, written as lax code on CPU, as JAX lowers it there), each a primitive with its rules.

tridiagonal_solve is linear in its right-hand side (the transpose solves with the transposed
matrix) and differentiable in the diagonals; symmetric_product's JVP is its product rule (JAX has
none; it is linear in C and quadratic in A, so both directions follow from lax's own rules).
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.lapack import (LAPACK_DTYPES, check_matrix, def_batch_at_front,
                                        full_like, info_ok,
                                        lapack_call, matmul, mT, nan_where_failed, shape,
                                        tril)
from spmd.transforms.lax.slicing import concatenate, pad, slice_in_dim
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


# ---------------------------------------------------------------- tridiagonal_solve
def _tridiagonal_solve_aval(dl, d, du, b, *, perturb_singular):
    if not (dl.shape == d.shape == du.shape):
        raise TypeError(f"tridiagonal_solve: the diagonals dl, d and du must have one shape, "
                        f"got {dl.shape}, {d.shape} and {du.shape}")
    if b.ndim < 2 or dl.shape != b.shape[:-1]:
        raise TypeError(f"tridiagonal_solve: b [..., m, n] must have the diagonals' shape "
                        f"{dl.shape} in its leading axes, got shape {b.shape}")
    if not (dl.dtype == d.dtype == du.dtype == b.dtype) or b.dtype not in LAPACK_DTYPES:
        raise TypeError(f"tridiagonal_solve: dl, d, du and b must share one dtype among "
                        f"float32, float64, complex64 and complex128, got {dl.dtype}, "
                        f"{d.dtype}, {du.dtype} and {b.dtype}")
    return b.strip_weak()


def _tridiagonal_solve_impl(dl, d, du, b, *, perturb_singular):
    aval = core.get_aval(b)
    if perturb_singular:  # jaxlib's own kernel, one for every dtype
        x, = lapack_call(dl, d, du, b, routine="tridiagonal_solve_perturbed", typed=False,
                         out_avals=(aval,))
        return x
    *_, x, info = lapack_call(dl, d, du, b, routine="gtsv", out_avals=(
        core.get_aval(dl), core.get_aval(d), core.get_aval(du), aval,
        ShapedArray(aval.shape[:-2], np.int32)))
    return nan_where_failed(x, info_ok(info))


tridiagonal_solve_p = Primitive("tridiagonal_solve")
tridiagonal_solve_p.def_abstract_eval(_tridiagonal_solve_aval)
lowering_rules[tridiagonal_solve_p] = lower_fun(_tridiagonal_solve_impl, multiple_results=False)
def_batch_at_front(tridiagonal_solve_p)


def _shift(v, offset):
    """v [..., m] moved `offset` places along its last axis, zeros filling in."""
    m = shape(v)[-1]
    nd = len(shape(v))
    zero = ew.full((), 0, core.get_aval(v).dtype)
    if offset > 0:
        return pad(slice_in_dim(v, 0, m - offset, axis=nd - 1), zero,
                   [(0, 0, 0)] * (nd - 1) + [(offset, 0, 0)])
    return pad(slice_in_dim(v, -offset, m, axis=nd - 1), zero,
               [(0, 0, 0)] * (nd - 1) + [(0, -offset, 0)])


def _rows(v, x):
    """v [..., m] spread over the columns of x [..., m, n]."""
    return broadcast_in_dim(v, shape(x), tuple(range(len(shape(v)))))


def _tridiagonal_product(dl, d, du, x):
    """A x for the tridiagonal A with diagonals (dl, d, du): row i is
    dl[i] x[i-1] + d[i] x[i] + du[i] x[i+1]."""
    nd = len(shape(x))
    zero_row = ew.full(shape(x)[:-2] + (1, shape(x)[-1]), 0, core.get_aval(x).dtype)
    above = concatenate([zero_row, slice_in_dim(x, 0, shape(x)[-2] - 1, axis=nd - 2)], nd - 2)
    below = concatenate([slice_in_dim(x, 1, shape(x)[-2], axis=nd - 2), zero_row], nd - 2)
    return ew.add(ew.add(ew.mul(_rows(dl, x), above), ew.mul(_rows(d, x), x)),
                  ew.mul(_rows(du, x), below))


def _tridiagonal_solve_jvp(primals, tangents, *, perturb_singular):
    # A X = B: A X' = B' - A' X
    *diags, b = primals
    *diag_dots, b_dot = tangents
    x = tridiagonal_solve_p.bind(*primals, perturb_singular=perturb_singular)
    if all(type(t) is Zero for t in tangents):
        return x, Zero(core.get_aval(x))
    rhs = instantiate(b_dot, core.get_aval(b))
    if any(type(t) is not Zero for t in diag_dots):
        dots = [instantiate(t, core.get_aval(p)) for t, p in zip(diag_dots, diags)]
        rhs = ew.sub(rhs, _tridiagonal_product(*dots, x))
    return x, tridiagonal_solve_p.bind(*diags, rhs, perturb_singular=perturb_singular)


def _tridiagonal_solve_transpose(ct, dl, d, du, b, *, perturb_singular):
    assert not any(map(is_undefined, (dl, d, du))) and is_undefined(b)
    if type(ct) is Zero:
        return [None, None, None, None]
    # A^T has A's upper diagonal below and its lower diagonal above, shifted by one row
    ct = instantiate(ct, b.aval)
    return [None, None, None, tridiagonal_solve_p.bind(
        _shift(du, 1), d, _shift(dl, -1), ct, perturb_singular=perturb_singular)]


jvp_rules[tridiagonal_solve_p] = _tridiagonal_solve_jvp
transpose_rules[tridiagonal_solve_p] = _tridiagonal_solve_transpose
linear_primitives.add(tridiagonal_solve_p)


def tridiagonal_solve(dl, d, du, b, *, perturb_singular: bool = False):
    """X with A X = B for the tridiagonal A of diagonals dl (below: dl[i] = A[i, i-1], dl[0] =
    0), d and du (above: du[i] = A[i, i+1], du[m-1] = 0), each [..., m], and b [..., m, n].
    NaN where A is singular; with perturb_singular, tiny pivots are perturbed instead."""
    return tridiagonal_solve_p.bind(dl, d, du, b, perturb_singular=bool(perturb_singular))


# ---------------------------------------------------------------- symmetric_product
def _symmetric_product_aval(a, c, *, alpha, beta):
    check_matrix("symmetric_product", a)
    check_matrix("symmetric_product", c, square=True)
    if a.shape[:-1] != c.shape[:-1] or a.dtype != c.dtype:
        raise ValueError(f"symmetric_product: a [..., m, n] and c [..., m, m] must share their "
                         f"batch axes, m and dtype, got {a.dtype}{list(a.shape)} and "
                         f"{c.dtype}{list(c.shape)}")
    return c.strip_weak()


def _symmetric_product_impl(a, c, *, alpha, beta):
    return ew.add(ew.mul(full_like(c, alpha), matmul(a, mT(a))), ew.mul(full_like(c, beta), c))


symmetric_product_p = Primitive("symmetric_product")
symmetric_product_p.def_abstract_eval(_symmetric_product_aval)
lowering_rules[symmetric_product_p] = lower_fun(_symmetric_product_impl, multiple_results=False)
def_batch_at_front(symmetric_product_p)


def _symmetric_product_jvp(primals, tangents, *, alpha, beta):
    (a, c), (da, dc) = primals, tangents
    out = symmetric_product_p.bind(a, c, alpha=alpha, beta=beta)
    dout = Zero(core.get_aval(out))
    if type(da) is not Zero:
        cross = matmul(da, mT(a))
        dout = ew.mul(full_like(out, alpha), ew.add(cross, mT(cross)))
    if type(dc) is not Zero:
        scaled = ew.mul(full_like(out, beta), dc)
        dout = scaled if type(dout) is Zero else ew.add(dout, scaled)
    return out, dout


jvp_rules[symmetric_product_p] = _symmetric_product_jvp


def symmetric_product(a_matrix, c_matrix, *, alpha: float = 1., beta: float = 0.,
                      symmetrize_output: bool = False):
    """alpha A A^T + beta C for A [..., m, n] and symmetric C [..., m, m]. As in JAX, only the
    lower triangle is promised unless symmetrize_output copies it over the upper one."""
    out = symmetric_product_p.bind(a_matrix, c_matrix, alpha=float(alpha), beta=float(beta))
    if symmetrize_output:
        out = ew.add(tril(out), mT(tril(out, -1)))
    return out
