"""Matrix decompositions (jax.lax.linalg): cholesky, lu, qr, eigh, svd, triangular_solve.

Each is one primitive over a batch of matrices [..., m, n] with its shape rule, its lowering
(LAPACK through transforms/lax/lapack.py, written as lax code; triangular_solve is XLA's own
op), its JVP and batching rule. Conventions are JAX's: a factorization that fails (a matrix
that is not positive definite, a solver that does not converge) gives NaN, not an error; LU's
pivots are 0-based; eigenvalues come sorted ascending, singular values descending.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, defjvp_zero, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.argminmax import argmax
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.lapack import (check_matrix, conj, def_batch_at_front,
                                        def_no_derivative, diag_matrix,
                                        diagonal, eye_like, full_like, info_ok, lapack_call,
                                        mH, matmul, mT, nan_where_failed, shape, tril, triu)
from spmd.transforms.lax.reductions import reduce_sum
from spmd.transforms.lax.slicing import concatenate, dynamic_index_in_dim, pad, slice_in_dim
from spmd.transforms.lax.linalg_options import EighImplementation, EigImplementation, SvdAlgorithm
from spmd.transforms.lax.structural import broadcast_in_dim, broadcasted_iota, expand_dims, squeeze
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


def real_dtype(dtype):
    return np.dtype(np.float32) if dtype == np.complex64 else (
        np.dtype(np.float64) if dtype == np.complex128 else dtype)


def declare(name, aval_rule, impl, multiple_results=True):
    """A primitive over batches of matrices [..., m, n], lowered as the lax code `impl` (which
    calls LAPACK); its operands share their batch axes, which the vmapped axis joins in front."""
    prim = Primitive(name, multiple_results=multiple_results)
    prim.def_abstract_eval(aval_rule)
    lowering_rules[prim] = lower_fun(impl, multiple_results=multiple_results)
    def_batch_at_front(prim)
    return prim


# ---------------------------------------------------------------- cholesky
def _cholesky_aval(x):
    check_matrix("cholesky", x, square=True)
    return x.strip_weak()


def _cholesky_impl(x):
    aval = core.get_aval(x)
    factor, info = lapack_call(x, routine="potrf", uplo="L", out_avals=(
        aval, ShapedArray(aval.shape[:-2], np.int32)))
    return nan_where_failed(tril(factor), info_ok(info))


cholesky_p = declare("cholesky", _cholesky_aval, _cholesky_impl, multiple_results=False)


def _cholesky_jvp(primals, tangents):
    # L' = L phi(L^-1 A' L^-H), phi: the lower triangle with its diagonal halved
    (x,), (dx,) = primals, tangents
    factor = cholesky_p.bind(x)
    if type(dx) is Zero:
        return factor, Zero(core.get_aval(factor))
    inner = triangular_solve(factor, triangular_solve(factor, dx, left_side=False, lower=True,
                                                      transpose_a=True, conjugate_a=True),
                             left_side=True, lower=True)
    half = ew.sub(tril(inner), ew.mul(diag_matrix(diagonal(inner), inner),
                                      full_like(inner, 0.5)))
    return factor, matmul(factor, half)


jvp_rules[cholesky_p] = _cholesky_jvp


def symmetrize(x):
    """(x + x^H) / 2: the Hermitian part, what the decompositions of symmetric matrices read."""
    return ew.div(ew.add(x, mH(x)), full_like(x, 2))


def cholesky(x, *, symmetrize_input: bool = True):
    """The lower Cholesky factor L (x = L L^H) of each Hermitian positive-definite matrix;
    NaN where x is not positive definite."""
    check_matrix("cholesky", core.get_aval(x), square=True)
    return cholesky_p.bind(symmetrize(x) if symmetrize_input else x)


# ---------------------------------------------------------------- lu
def _lu_aval(x):
    check_matrix("lu", x)
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    return [x.strip_weak(), ShapedArray(batch + (min(m, n),), np.int32),
            ShapedArray(batch + (m,), np.int32)]


def _lu_pivots_to_permutation_aval(pivots, *, permutation_size):
    if pivots.ndim < 1 or pivots.dtype != np.int32:
        raise TypeError(f"lu_pivots_to_permutation: pivots must be an int32 array [..., k], "
                        f"got {pivots.dtype} of shape {pivots.shape}")
    if permutation_size < pivots.shape[-1]:
        raise ValueError(f"lu_pivots_to_permutation: permutation_size {permutation_size} must "
                         f"be at least the number of pivots, {pivots.shape[-1]}")
    return ShapedArray(pivots.shape[:-1] + (permutation_size,), np.int32)


def _lu_pivots_to_permutation_impl(pivots, *, permutation_size):
    """The permutation that LAPACK's row swaps (row i with row pivots[i], in order) apply."""
    s = shape(pivots)
    rows = broadcasted_iota(np.int32, s[:-1] + (permutation_size,), len(s) - 1)

    def swap(i, perm):
        p = dynamic_index_in_dim(pivots, i, len(s) - 1, keepdims=True)
        here = ew.eq(rows, _spread(ew.convert_element_type(i, np.int32), rows))
        there = ew.eq(rows, broadcast_in_dim(p, shape(rows), tuple(range(len(s)))))
        at_i = _pick(perm, here)
        at_p = _pick(perm, there)
        return ew.select(here, at_p, ew.select(there, at_i, perm))
    return fori_loop(0, s[-1], swap, rows)


lu_pivots_to_permutation_p = declare("lu_pivots_to_permutation", _lu_pivots_to_permutation_aval,
                                     _lu_pivots_to_permutation_impl, multiple_results=False)
defjvp_zero(lu_pivots_to_permutation_p)


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The int32 permutation [..., permutation_size] that LU's row swaps `pivots` [..., k]
    (row i with row pivots[i], in order) apply."""
    return lu_pivots_to_permutation_p.bind(pivots, permutation_size=int(permutation_size))


def _spread(scalar, like):
    return broadcast_in_dim(scalar, shape(like), ())


def _pick(values, mask):
    """The one value of each row of `values` where `mask` holds, spread over the row."""
    s = shape(values)
    picked = reduce_sum(ew.select(mask, values, full_like(values, 0)), (len(s) - 1,))
    return broadcast_in_dim(picked, s, tuple(range(len(s) - 1)))


def _lu_impl(x):
    aval = core.get_aval(x)
    m, n = aval.shape[-2:]
    batch = aval.shape[:-2]
    factors, pivots, info = lapack_call(x, routine="getrf", out_avals=(
        aval, ShapedArray(batch + (min(m, n),), np.int32), ShapedArray(batch, np.int32)))
    pivots = ew.sub(pivots, full_like(pivots, 1))  # LAPACK counts from 1
    factors = nan_where_failed(factors, info_ok(info, ew.ge))  # info > 0: singular, still an LU
    return [factors, pivots, lu_pivots_to_permutation(pivots, m)]


lu_p = declare("lu", _lu_aval, _lu_impl)


def _lu_factors(lu_, m, n):
    """The unit-lower L [m, m] and the upper U [m, n] (padded to n x n) packed in lu_."""
    k = min(m, n)
    nd = len(shape(lu_))
    lower = tril(slice_in_dim(lu_, 0, k, axis=nd - 1), -1)
    zero = ew.full((), 0, core.get_aval(lu_).dtype)
    lower = pad(lower, zero, [(0, 0, 0)] * (nd - 1) + [(0, m - k, 0)])
    lower = ew.add(lower, eye_like(lower))
    upper = pad(triu(slice_in_dim(lu_, 0, k, axis=nd - 2)), zero,
                [(0, 0, 0)] * (nd - 2) + [(0, n - k, 0), (0, 0, 0)])
    if n > k:  # ones on the padded diagonal keep U invertible for the tangent's solve
        ones = pad(eye_like(ew.full(shape(lu_)[:-2] + (n - k, n - k), 0,
                                    core.get_aval(lu_).dtype)), zero,
                   [(0, 0, 0)] * (nd - 2) + [(k, 0, 0), (k, 0, 0)])
        upper = ew.add(upper, ones)
    return lower, upper


def permute_rows(x, permutation):
    """x[..., permutation, :] for a batch of matrices and a batch of permutations."""
    s = shape(x)
    m = s[-2]
    onehot = ew.convert_element_type(ew.eq(
        broadcast_in_dim(permutation, s[:-2] + (len_of(permutation), m), tuple(range(len(s) - 1))),
        broadcasted_iota(np.int32, s[:-2] + (len_of(permutation), m), len(s) - 1)),
        core.get_aval(x).dtype)
    return matmul(onehot, x)


def len_of(v):
    return shape(v)[-1]


def _lu_jvp(primals, tangents):
    # L' = L tril(L^-1 P A' U^-1, -1), U' = triu(L^-1 P A' U^-1) U
    (x,), (dx,) = primals, tangents
    lu_, pivots, perm = lu_p.bind(x)
    zeros = [Zero(core.get_aval(pivots)), Zero(core.get_aval(perm))]
    if type(dx) is Zero:
        return [lu_, pivots, perm], [Zero(core.get_aval(lu_))] + zeros
    m, n = shape(x)[-2:]
    lower, upper = _lu_factors(lu_, m, n)
    la = triangular_solve(lower, permute_rows(dx, perm), left_side=True, lower=True,
                          unit_diagonal=True)
    lau = triangular_solve(upper, la, left_side=False, lower=False)
    dlu = ew.add(matmul(lower, tril(lau, -1)), matmul(triu(lau), upper))
    return [lu_, pivots, perm], [dlu] + zeros


jvp_rules[lu_p] = _lu_jvp


def lu(x):
    """(lu, pivots, permutation): P x = L U with L unit lower (below lu's diagonal) and U upper
    (on and above it); pivots are LAPACK's row swaps counted from 0."""
    return lu_p.bind(x)


# ---------------------------------------------------------------- householder_product
def _householder_product_aval(a, taus):
    check_matrix("householder_product", a)
    m, n = a.shape[-2:]
    if m < n:
        raise ValueError(f"householder_product: a must have at least as many rows as columns, "
                         f"got shape {a.shape}")
    if taus.dtype != a.dtype or taus.shape[:-1] != a.shape[:-2] or taus.shape[-1] > n:
        raise ValueError(f"householder_product: taus must be a {a.dtype} array [..., k] with "
                         f"a's batch axes {a.shape[:-2]} and k <= {n}, got {taus.dtype} of "
                         f"shape {taus.shape}")
    return a.strip_weak()


def _householder_product_impl(a, taus):
    routine = "ungqr" if dtypes.is_complex(core.get_aval(a).dtype) else "orgqr"
    q, = lapack_call(a, taus, routine=routine, out_avals=(core.get_aval(a),))
    return q


householder_product_p = Primitive("householder_product")
householder_product_p.def_abstract_eval(_householder_product_aval)
lowering_rules[householder_product_p] = lower_fun(_householder_product_impl,
                                                  multiple_results=False)


def_batch_at_front(householder_product_p)
def_no_derivative(householder_product_p)


def householder_product(a, taus):
    """The unitary [..., m, n] matrices whose columns are the product of the elementary
    reflectors held below a's diagonal, with scale factors taus [..., k] (LAPACK's orgqr)."""
    return householder_product_p.bind(a, taus)


# ---------------------------------------------------------------- qr
def _qr_aval(x, *, full_matrices, pivoting):
    check_matrix("qr", x)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = x.shape[:-2]
    return [ShapedArray(batch + (m, k), x.dtype), ShapedArray(batch + (k, n), x.dtype)] + (
        [ShapedArray(batch + (n,), np.int32)] if pivoting else [])


def _qr_impl(x, *, full_matrices, pivoting):
    aval = core.get_aval(x)
    m, n = aval.shape[-2:]
    k, nd = min(m, n), aval.ndim
    taus_aval = ShapedArray(aval.shape[:-2] + (k,), aval.dtype)
    if pivoting:  # geqp3: column pivots chosen so that r's diagonal does not increase
        columns = ShapedArray(aval.shape[:-2] + (n,), np.int32)
        reflectors, columns, taus = lapack_call(x, ew.full(columns.shape, 0, np.int32),
                                                routine="geqp3",
                                                out_avals=(aval, columns, taus_aval))
        pivots = [ew.sub(columns, full_like(columns, 1))]  # LAPACK counts from 1
    else:
        reflectors, taus = lapack_call(x, routine="geqrf", out_avals=(aval, taus_aval))
        pivots = []
    r = triu(reflectors)
    if not full_matrices or m < n:
        r = slice_in_dim(r, 0, min(m, n) if not full_matrices else m, axis=nd - 2)
    if m < n:
        q_in = slice_in_dim(reflectors, 0, m, axis=nd - 1)
    elif full_matrices and m > n:
        q_in = pad(reflectors, ew.full((), 0, aval.dtype),
                   [(0, 0, 0)] * (nd - 1) + [(0, m - n, 0)])
    else:
        q_in = reflectors
    return [householder_product(q_in, taus), r] + pivots


qr_p = declare("qr", _qr_aval, _qr_impl)


def _thin_qr_jvp(q, r, dx):
    """The tangents of Q [m, n] and R [n, n] of a thin QR with m >= n."""
    dx_rinv = triangular_solve(r, dx, left_side=False, lower=False)
    qt_dx_rinv = matmul(mH(q), dx_rinv)
    below = tril(qt_dx_rinv, -1)
    skew = ew.sub(below, mH(below))
    if dtypes.is_complex(core.get_aval(q).dtype):  # the diagonal's imaginary part
        imag = ew.sub(qt_dx_rinv, ew.convert_element_type(ew.real(qt_dx_rinv),
                                                          core.get_aval(q).dtype))
        skew = ew.add(skew, ew.mul(eye_like(skew), imag))
    dq = ew.add(matmul(q, ew.sub(skew, qt_dx_rinv)), dx_rinv)
    dr = matmul(ew.sub(qt_dx_rinv, skew), r)
    return dq, dr


def _permute_columns(x, permutation):
    return mT(permute_rows(mT(x), permutation))


def _qr_jvp(primals, tangents, *, full_matrices, pivoting):
    (x,), (dx,) = primals, tangents
    outs = qr_p.bind(x, full_matrices=full_matrices, pivoting=pivoting)
    q, r, *p = outs
    if type(dx) is Zero:
        return outs, [Zero(core.get_aval(o)) for o in outs]
    if pivoting:  # x[:, p] = q r: the pivots are locally constant
        x, dx = _permute_columns(x, p[0]), _permute_columns(dx, p[0])
    zero_p = [Zero(core.get_aval(o)) for o in p]
    m, n = shape(x)[-2:]
    nd = len(shape(x))
    if m < n:  # X = [X1 X2]: X1 = Q R1 is square, R2 = Q^H X2
        dq, dr1 = _thin_qr_jvp(q, slice_in_dim(r, 0, m, axis=nd - 1),
                               slice_in_dim(dx, 0, m, axis=nd - 1))
        dr2 = ew.add(matmul(mH(dq), slice_in_dim(x, m, n, axis=nd - 1)),
                     matmul(mH(q), slice_in_dim(dx, m, n, axis=nd - 1)))
        return outs, [dq, concatenate([dr1, dr2], nd - 1)] + zero_p
    if full_matrices and m > n:
        return outs, list(_full_tall_qr_jvp(q, r, dx, m, n, nd)) + zero_p
    dq, dr = _thin_qr_jvp(q, r, dx)
    return outs, [dq, dr] + zero_p


def _full_tall_qr_jvp(q, r, dx, m, n, nd):
    """The tangents of a complete QR of a tall x (q [m, m], r [m, n], m > n): the thin part's,
    and for the m - n completing columns Q_mp the choice that keeps Q unitary and follows
    Householder's construction, as JAX takes it: with Q_mn = [Q_nn; Q_pn] and
    Z = Q_pn (Q_nn - I)^-1, Q_mp' = Q_mn' Z^H - (Q_mn + Q_mp Z)(Q_pn' - Z Q_nn')^H."""
    q_mn = slice_in_dim(q, 0, n, axis=nd - 1)
    dq_mn, dr_nn = _thin_qr_jvp(q_mn, slice_in_dim(r, 0, n, axis=nd - 2), dx)
    q_nn, q_pn = (slice_in_dim(q_mn, lo, hi, axis=nd - 2) for lo, hi in ((0, n), (n, m)))
    dq_nn, dq_pn = (slice_in_dim(dq_mn, lo, hi, axis=nd - 2) for lo, hi in ((0, n), (n, m)))
    z_h = lu_solve_matrix(mH(ew.sub(q_nn, eye_like(q_nn))), mH(q_pn))  # (Q_nn - I)^H Z^H = Q_pn^H
    z = mH(z_h)
    q_mp = slice_in_dim(q, n, m, axis=nd - 1)
    dq_mp = ew.sub(matmul(dq_mn, z_h),
                   matmul(ew.add(q_mn, matmul(q_mp, z)), mH(ew.sub(dq_pn, matmul(z, dq_nn)))))
    zeros = ew.full(shape(dr_nn)[:-2] + (m - n, n), 0, core.get_aval(dr_nn).dtype)
    return concatenate([dq_mn, dq_mp], nd - 1), concatenate([dr_nn, zeros], nd - 2)


jvp_rules[qr_p] = _qr_jvp


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """(q, r) with x = q r, q's columns orthonormal and r upper triangular; with pivoting,
    (q, r, p) with x[..., p] = q r and r's diagonal non-increasing in magnitude. use_magma
    applies only on GPU, as in JAX."""
    return tuple(qr_p.bind(x, full_matrices=bool(full_matrices), pivoting=bool(pivoting)))


# ---------------------------------------------------------------- eigh
def _eigh_aval(x, *, lower):
    check_matrix("eigh", x, square=True)
    return [x.strip_weak(), ShapedArray(x.shape[:-1], real_dtype(x.dtype))]


def _eigh_impl(x, *, lower):
    aval = core.get_aval(x)
    routine = "heevd" if dtypes.is_complex(aval.dtype) else "syevd"
    v, w, info = lapack_call(x, routine=routine, mode="V", uplo="L" if lower else "U",
                             out_avals=(aval, ShapedArray(aval.shape[:-1],
                                                          real_dtype(aval.dtype)),
                                        ShapedArray(aval.shape[:-2], np.int32)))
    ok = info_ok(info)
    return [nan_where_failed(v, ok), nan_where_failed(w, ok)]


eigh_p = declare("eigh", _eigh_aval, _eigh_impl)


def _eigh_jvp(primals, tangents, *, lower):
    # distinct eigenvalues: w' = diag(V^H A' V), V' = V (F o V^H A' V), F_ij = 1/(w_j - w_i)
    (x,), (dx,) = primals, tangents
    v, w = eigh_p.bind(symmetrize(x), lower=lower)
    if type(dx) is Zero:
        return [v, w], [Zero(core.get_aval(v)), Zero(core.get_aval(w))]
    dtype = core.get_aval(x).dtype
    wc = ew.convert_element_type(w, dtype)
    s = shape(x)
    nd = len(s)
    w_col = broadcast_in_dim(wc, s, tuple(range(nd - 2)) + (nd - 1,))
    w_row = broadcast_in_dim(wc, s, tuple(range(nd - 1)))
    eye = eye_like(v)
    f = ew.sub(ew.div(full_like(v, 1), ew.add(eye, ew.sub(w_col, w_row))), eye)
    vdag_dx_v = matmul(matmul(mH(v), dx), v)
    dv = matmul(v, ew.mul(f, vdag_dx_v))
    dw = diagonal(ew.real(vdag_dx_v) if dtypes.is_complex(dtype) else vdag_dx_v)
    return [v, w], [dv, dw]


jvp_rules[eigh_p] = _eigh_jvp


def _full_subset(who, subset_by_index, size):
    if subset_by_index is not None and tuple(subset_by_index) != (0, size):
        raise NotImplementedError(f"{who}: subset_by_index is not supported on CPU (as in "
                                  f"JAX); compute all {size} and slice them")


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True, sort_eigenvalues: bool = True,
         subset_by_index=None, implementation=None):
    """(v, w): eigenvectors (columns of v) and ascending eigenvalues of Hermitian matrices.
    LAPACK sorts the eigenvalues whatever sort_eigenvalues says, as JAX's CPU path does."""
    check_matrix("eigh", core.get_aval(x), square=True)
    _full_subset("eigh", subset_by_index, shape(x)[-1])
    if implementation not in (None, EighImplementation.QR):
        raise NotImplementedError(f"eigh: {implementation} is not supported on CPU (as in JAX); "
                                  f"use implementation=None or EighImplementation.QR")
    return eigh_p.bind(symmetrize(x) if symmetrize_input else x, lower=bool(lower))


# ---------------------------------------------------------------- eig
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def _complex_dtype(dtype):
    return _COMPLEX_OF.get(np.dtype(dtype), np.dtype(dtype))


def _eig_aval(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
              enable_eigvec_derivs):
    check_matrix("eig", x, square=True)
    dtype = _complex_dtype(x.dtype)
    vectors = [ShapedArray(x.shape, dtype)] * (int(compute_left_eigenvectors)
                                               + int(compute_right_eigenvectors))
    return [ShapedArray(x.shape[:-1], dtype)] + vectors


def _eig_impl(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
              enable_eigvec_derivs):
    aval = core.get_aval(x)
    dtype = _complex_dtype(aval.dtype)
    values = ShapedArray(aval.shape[:-1], aval.dtype)
    vectors = ShapedArray(aval.shape, dtype)
    real = not dtypes.is_complex(aval.dtype)  # real LAPACK gives real and imaginary parts apart
    outs = lapack_call(x, routine="geev", out_avals=(
        [values] * (2 if real else 1) + [vectors, vectors, ShapedArray(aval.shape[:-2], np.int32)]),
        compute_left="V" if compute_left_eigenvectors else "N",
        compute_right="V" if compute_right_eigenvectors else "N")
    *w, vl, vr, info = outs
    w = ew.complex_(w[0], w[1]) if real else w[0]
    ok = info_ok(info)
    return [nan_where_failed(v, ok) for v, keep in (
        (w, True), (vl, compute_left_eigenvectors), (vr, compute_right_eigenvectors)) if keep]


eig_p = declare("eig", _eig_aval, _eig_impl)


def lu_solve_matrix(a, b):
    """x with a x = b for square a [..., n, n] and b [..., n, k] with a's batch axes."""
    lu_, _, perm = lu_p.bind(a)
    y = triangular_solve(lu_, permute_rows(b, perm), left_side=True, lower=True,
                         unit_diagonal=True)
    return triangular_solve(lu_, y, left_side=True, lower=False)


def _eigenvector_jvp(w, v, dx):
    """(w', v') for distinct eigenvalues w and eigenvectors v (columns) under the tangent dx:
    with P = V^-1 A' V, w' = diag(P) and v'_j = u_j + c_j v_j, u = V (F o P),
    F_ij = 1 / (w_j - w_i). The free c_j is fixed by LAPACK's normalization, which v' must keep:
    unit length, and a real component of largest magnitude (row k_j):
    c_j = -Re(v_j^H u_j) - i Im(u_kj) / v_kj."""
    s = shape(v)
    nd = len(s)
    w_col = broadcast_in_dim(w, s, tuple(range(nd - 2)) + (nd - 1,))  # w_j
    w_row = broadcast_in_dim(w, s, tuple(range(nd - 1)))              # w_i
    eye = eye_like(v)
    f = ew.sub(ew.div(full_like(v, 1), ew.add(eye, ew.sub(w_col, w_row))), eye)
    p = matmul(lu_solve_matrix(v, dx), v)
    u = matmul(v, ew.mul(f, p))
    largest = argmax(ew.real(ew.mul(v, ew.conj(v))), nd - 2, np.int32)
    rows = broadcasted_iota(np.int32, s, nd - 2)
    at_k = ew.convert_element_type(
        ew.eq(rows, broadcast_in_dim(largest, s, tuple(range(nd - 2)) + (nd - 1,))),
        core.get_aval(v).dtype)
    c = ew.complex_(ew.neg(ew.real(reduce_sum(ew.mul(ew.conj(v), u), (nd - 2,)))),
                    ew.neg(ew.div(ew.imag(reduce_sum(ew.mul(at_k, u), (nd - 2,))),
                                  ew.real(reduce_sum(ew.mul(at_k, v), (nd - 2,))))))
    return diagonal(p), ew.add(u, ew.mul(v, broadcast_in_dim(c, s, tuple(range(nd - 2))
                                                             + (nd - 1,))))


def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs):
    # distinct eigenvalues: w' = diag(V^-1 A' V) with V the right eigenvectors
    (x,), (dx,) = primals, tangents
    params = dict(compute_left_eigenvectors=compute_left_eigenvectors,
                  enable_eigvec_derivs=enable_eigvec_derivs)
    outs = eig_p.bind(x, compute_right_eigenvectors=compute_right_eigenvectors, **params)
    if type(dx) is Zero:
        return outs, [Zero(core.get_aval(o)) for o in outs]
    vectors = compute_left_eigenvectors or compute_right_eigenvectors
    if vectors and not enable_eigvec_derivs:
        raise NotImplementedError(
            "Derivatives of non-symmetric eigenvectors are only valid under assumptions on "
            "the input that spmd cannot check (distinct eigenvalues); pass "
            "enable_eigvec_derivs=True to lax.linalg.eig to opt in, as in JAX, or "
            "differentiate the eigenvalues alone (eigvals)")
    w, *_, vr = eig_p.bind(x, compute_right_eigenvectors=True, **params)
    dx = ew.convert_element_type(dx, core.get_aval(vr).dtype)
    if not vectors:
        return outs, [diagonal(matmul(lu_solve_matrix(vr, dx), vr))]
    dw, dvr = _eigenvector_jvp(w, vr, dx)
    tangents = [dw]
    if compute_left_eigenvectors:  # vl^H A = w vl^H: the right eigenvectors of A^H
        tangents.append(_eigenvector_jvp(ew.conj(w), outs[1], mH(dx))[1])
    return outs, tangents + ([dvr] if compute_right_eigenvectors else [])


jvp_rules[eig_p] = _eig_jvp


def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None):
    """[w, vl, vr] (those asked for) of a general square matrix, complex, unsorted: x vr = vr w
    and vl^H x = w vl^H, each eigenvector of unit length. Only LAPACK runs on CPU;
    the eigenvectors are differentiated only with enable_eigvec_derivs (distinct eigenvalues:
    an assumption spmd cannot check), as in JAX."""
    if implementation not in (None, EigImplementation.LAPACK) or use_magma:
        raise NotImplementedError(f"eig: only the LAPACK implementation runs on CPU, got "
                                  f"implementation={implementation}, use_magma={use_magma}")
    return eig_p.bind(x, compute_left_eigenvectors=bool(compute_left_eigenvectors),
                      compute_right_eigenvectors=bool(compute_right_eigenvectors),
                      enable_eigvec_derivs=bool(enable_eigvec_derivs))


# ---------------------------------------------------------------- svd
def _svd_aval(x, *, full_matrices, compute_uv, qr_algorithm):
    check_matrix("svd", x)
    m, n = x.shape[-2:]
    k, batch = min(m, n), x.shape[:-2]
    s = ShapedArray(batch + (k,), real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    return [s, ShapedArray(batch + (m, m if full_matrices else k), x.dtype),
            ShapedArray(batch + (n if full_matrices else k, n), x.dtype)]


def _svd_impl(x, *, full_matrices, compute_uv, qr_algorithm):
    aval = core.get_aval(x)
    m, n = aval.shape[-2:]
    k, batch = min(m, n), aval.shape[:-2]
    u_aval = ShapedArray(batch + (m, m if full_matrices else k), aval.dtype)
    vt_aval = ShapedArray(batch + (n if full_matrices else k, n), aval.dtype)
    mode = "N" if not compute_uv else ("A" if full_matrices else "S")
    routine = "gesvd" if qr_algorithm else "gesdd"
    _, s, u, vt, info = lapack_call(x, routine=routine, mode=mode, out_avals=(
        aval, ShapedArray(batch + (k,), real_dtype(aval.dtype)), u_aval, vt_aval,
        ShapedArray(batch, np.int32)))
    ok = info_ok(info)
    if not compute_uv:
        return [nan_where_failed(s, ok)]
    return [nan_where_failed(s, ok), nan_where_failed(u, ok), nan_where_failed(vt, ok)]


svd_p = declare("svd", _svd_aval, _svd_impl)


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, qr_algorithm):
    (x,), (dx,) = primals, tangents
    s, u, vt = svd_p.bind(x, full_matrices=False, compute_uv=True, qr_algorithm=qr_algorithm)
    outs = svd_p.bind(x, full_matrices=full_matrices, compute_uv=compute_uv,
                      qr_algorithm=qr_algorithm)
    if type(dx) is Zero:
        return outs, [Zero(core.get_aval(o)) for o in outs]
    m, n = shape(x)[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError("The derivative of svd with full_matrices=True is implemented "
                                  "only for square matrices; use full_matrices=False")
    dtype = core.get_aval(x).dtype
    v = mH(vt)
    ds_mat = matmul(matmul(mH(u), dx), v)
    ds = diagonal(ew.real(ds_mat) if dtypes.is_complex(dtype) else ds_mat)
    if not compute_uv:
        return outs, [ds]
    k = min(m, n)
    sq = ew.full(shape(s)[:-1] + (k, k), 0, core.get_aval(s).dtype)
    nd = len(shape(sq))
    s_col = broadcast_in_dim(s, shape(sq), tuple(range(nd - 2)) + (nd - 1,))  # s_j
    s_row = broadcast_in_dim(s, shape(sq), tuple(range(nd - 1)))              # s_i
    eye_r = eye_like(sq)
    diffs = ew.mul(ew.add(s_col, s_row), ew.sub(s_col, s_row))
    f = ew.convert_element_type(ew.sub(ew.div(full_like(sq, 1), ew.add(diffs, eye_r)), eye_r),
                                dtype)
    s_c = ew.convert_element_type(s_col, dtype)
    s_r = ew.convert_element_type(s_row, dtype)
    dss = ew.mul(s_c, ds_mat)
    sds = ew.mul(s_r, ds_mat)
    zero_s = ew.convert_element_type(ew.eq(s, full_like(s, 0)), core.get_aval(s).dtype)
    s_inv = ew.sub(ew.div(full_like(s, 1), ew.add(s, zero_s)), zero_s)
    s_inv_mat = ew.convert_element_type(diag_matrix(s_inv, sq), dtype)
    half = ew.full(shape(ds_mat), 0.5, dtype)
    du_dv_diag = ew.mul(ew.mul(half, ew.sub(ds_mat, mH(ds_mat))), s_inv_mat)
    du = matmul(u, ew.add(ew.mul(f, ew.add(dss, mH(dss))), du_dv_diag))
    dv = matmul(v, ew.mul(f, ew.add(sds, mH(sds))))
    if m > n:
        dxv = matmul(dx, v)
        du = ew.add(du, ew.div(ew.sub(dxv, matmul(u, matmul(mH(u), dxv))),
                               _rows_like(s_c, dxv)))
    if n > m:
        dxhu = matmul(mH(dx), u)
        dv = ew.add(dv, ew.div(ew.sub(dxhu, matmul(v, matmul(vt, dxhu))),
                               _rows_like(s_c, dxhu)))
    return outs, [ds, du, mH(dv)]


def _rows_like(s_col_square, target):
    """s_j (one per column) spread over the rows of `target` [..., r, k]."""
    nd = len(shape(target))
    row = slice_in_dim(s_col_square, 0, 1, axis=nd - 2)
    return broadcast_in_dim(reduce_sum(row, (nd - 2,)), shape(target),
                            tuple(range(nd - 2)) + (nd - 1,))


jvp_rules[svd_p] = _svd_jvp


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
    """(u, s, vt) with x = u diag(s) vt and s descending; just s without compute_uv. The
    algorithm is LAPACK's divide and conquer (gesdd) or, with SvdAlgorithm.QR, gesvd."""
    check_matrix("svd", core.get_aval(x))
    _full_subset("svd", subset_by_index, min(shape(x)[-2:]))
    if algorithm not in (None, SvdAlgorithm.DEFAULT, SvdAlgorithm.DIVIDE_AND_CONQUER,
                         SvdAlgorithm.QR):
        raise NotImplementedError(f"svd: {algorithm} is not implemented on CPU (as in JAX); "
                                  f"use SvdAlgorithm.DEFAULT or SvdAlgorithm.QR")
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv),
                      qr_algorithm=algorithm is SvdAlgorithm.QR)
    if not compute_uv:
        return outs[0]
    s, u, vt = outs
    return u, s, vt


# ---------------------------------------------------------------- triangular_solve
def _triangular_solve_aval(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    check_matrix("triangular_solve", a, square=True)
    check_matrix("triangular_solve", b)
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have one dtype, got {a.dtype} and "
                        f"{b.dtype}")
    common = b.shape[-2] if left_side else b.shape[-1]
    if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != common:
        raise ValueError(f"triangular_solve: a of shape {a.shape} and b of shape {b.shape} do "
                         f"not match: they need the same batch axes and b's "
                         f"{'rows' if left_side else 'columns'} must number a's")
    return b.strip_weak()


def _triangular_solve_lowering(ctx, a, b, *, left_side, lower, transpose_a, conjugate_a,
                               unit_diagonal):
    if conjugate_a and not transpose_a:
        a = ctx.op("chlo.conj", [a], out_avals=[ctx.in_avals[0]], operand_avals=[ctx.in_avals[0]])
    mode = ("ADJOINT" if conjugate_a else "TRANSPOSE") if transpose_a else "NO_TRANSPOSE"
    flag = {True: "true", False: "false"}
    return ctx.op("stablehlo.triangular_solve", [a, b], attrs=(
        f"left_side = {flag[left_side]}, lower = {flag[lower]}, "
        f"unit_diagonal = {flag[unit_diagonal]}, transpose_a = #stablehlo<transpose {mode}>"))


triangular_solve_p = Primitive("triangular_solve")
triangular_solve_p.def_abstract_eval(_triangular_solve_aval)
lowering_rules[triangular_solve_p] = _triangular_solve_lowering


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    out = triangular_solve_p.bind(a, b, **params)
    total = Zero(core.get_aval(out))
    if type(db) is not Zero:
        total = triangular_solve_p.bind(a, db, **params)
    if type(da) is not Zero:
        # d(A^-1 B) = -A^-1 A' X (left) or -X A' A^-1 (right), A' restricted to A's triangle
        k = 1 if params["unit_diagonal"] else 0
        da = tril(da, -k) if params["lower"] else triu(da, k)
        da = ew.neg(da)
        if params["transpose_a"]:
            da = mT(da)
        if params["conjugate_a"]:
            da = conj(da)
        solve = _op_inverse(a, params)
        part = solve(matmul(da, out)) if params["left_side"] else solve(matmul(out, da))
        total = part if type(total) is Zero else ew.add(total, part)
    return out, total


def _op_inverse(a, params):
    return lambda rhs: triangular_solve_p.bind(a, rhs, **params)


def _triangular_solve_transpose(ct, a, b, **params):
    assert not is_undefined(a) and is_undefined(b)
    if type(ct) is Zero:
        return [None, None]
    ct = instantiate(ct, b.aval)
    flipped = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **flipped)]


jvp_rules[triangular_solve_p] = _triangular_solve_jvp
transpose_rules[triangular_solve_p] = _triangular_solve_transpose
def_batch_at_front(triangular_solve_p)
linear_primitives.add(triangular_solve_p)


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """X with op(a) X = b (left_side) or X op(a) = b, a triangular; op transposes and/or
    conjugates a (jax.lax.linalg.triangular_solve). b may also be one vector per matrix
    ([..., m]: b.ndim == a.ndim - 1), as in JAX."""
    conjugate_a = conjugate_a and dtypes.is_complex(core.get_aval(a).dtype)
    vector = len(shape(b)) == len(shape(a)) - 1
    if vector:
        b = expand_dims(b, (len(shape(b)) if left_side else len(shape(b)) - 1,))
    out = triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                  transpose_a=bool(transpose_a), conjugate_a=bool(conjugate_a),
                                  unit_diagonal=bool(unit_diagonal))
    if vector:
        out = squeeze(out, (len(shape(out)) - 1 if left_side else len(shape(out)) - 2,))
    return out

