"""The reductions of a square matrix to a condensed form (jax.lax.linalg): schur (LAPACK's gees),
hessenberg (gehrd) and tridiagonal (sytrd/hetrd).

Each is one primitive over a batch of matrices [..., n, n], lowered to LAPACK through
transforms/lax/lapack.py; a batch whose routine fails gives NaN, as in JAX. JAX differentiates
none of them, and neither does spmd: their JVP rules say so.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.core import ShapedArray
from spmd.transforms.lax.lapack import (check_matrix, def_no_derivative, info_ok, lapack_call,
                                        nan_where_failed)
from spmd.transforms.lax.linalg import declare, real_dtype


def _info(aval):
    return ShapedArray(aval.shape[:-2], np.int32)


# ---------------------------------------------------------------- schur
def _schur_aval(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
    check_matrix("schur", x, square=True)
    return [x.strip_weak()] * (2 if compute_schur_vectors else 1)


def _schur_impl(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
    aval = core.get_aval(x)
    values = ShapedArray(aval.shape[:-1], aval.dtype)
    real = not dtypes.is_complex(aval.dtype)  # real LAPACK gives real and imaginary parts apart
    form, vectors, *_, info = lapack_call(
        x, routine="gees", mode="V" if compute_schur_vectors else "N", sort="N",
        out_avals=[aval, aval] + [values] * (2 if real else 1) + [_info(aval)] * 2)
    ok = info_ok(info)
    return [nan_where_failed(form, ok)] + (
        [nan_where_failed(vectors, ok)] if compute_schur_vectors else [])


schur_p = declare("schur", _schur_aval, _schur_impl)
def_no_derivative(schur_p)


def schur(x, *, compute_schur_vectors: bool = True, sort_eig_vals: bool = False,
          select_callable=None):
    """(T, Q) with x = Q T Q^H, Q unitary and T upper triangular (quasi-triangular, with 2 x 2
    blocks for complex pairs of eigenvalues, for a real x); T alone without
    compute_schur_vectors. As in JAX, sort_eig_vals is not supported and select_callable unused."""
    if sort_eig_vals:
        raise NotImplementedError("schur: the sort feature of LAPACK's gees routine is not "
                                  "implemented (as in JAX); call it with sort_eig_vals=False")
    out = schur_p.bind(x, compute_schur_vectors=bool(compute_schur_vectors),
                       sort_eig_vals=False, select_callable=select_callable)
    return tuple(out) if compute_schur_vectors else out[0]


# ---------------------------------------------------------------- hessenberg
def _hessenberg_aval(a):
    check_matrix("hessenberg", a, square=True)
    return [a.strip_weak(), ShapedArray(a.shape[:-2] + (max(a.shape[-1] - 1, 0),), a.dtype)]


def _hessenberg_impl(a):
    aval = core.get_aval(a)
    n = aval.shape[-1]
    taus = ShapedArray(aval.shape[:-2] + (max(n - 1, 0),), aval.dtype)
    # low and high are LAPACK's ilo/ihi (1-based): the whole matrix is reduced
    h, taus, info = lapack_call(a, routine="gehrd", low=1, high=n,
                                out_avals=(aval, taus, _info(aval)))
    ok = info_ok(info)
    return [nan_where_failed(h, ok), nan_where_failed(taus, ok)]


hessenberg_p = declare("hessenberg", _hessenberg_aval, _hessenberg_impl)
def_no_derivative(hessenberg_p)


def hessenberg(a):
    """(a', taus): the upper Hessenberg form of a in a''s upper triangle and first subdiagonal,
    the Householder reflectors below it, and their scale factors taus [..., n - 1]."""
    return tuple(hessenberg_p.bind(a))


# ---------------------------------------------------------------- tridiagonal
def _tridiagonal_aval(a, *, lower):
    check_matrix("tridiagonal", a, square=True)
    n = a.shape[-1]
    if n == 0:
        raise ValueError(f"tridiagonal: the matrix must have at least one row, got shape "
                         f"{a.shape}")
    batch, real = a.shape[:-2], real_dtype(a.dtype)
    return [a.strip_weak(), ShapedArray(batch + (n,), real), ShapedArray(batch + (n - 1,), real),
            ShapedArray(batch + (n - 1,), a.dtype)]


def _tridiagonal_impl(a, *, lower):
    aval = core.get_aval(a)
    routine = "hetrd" if dtypes.is_complex(aval.dtype) else "sytrd"
    *outs, info = lapack_call(a, routine=routine, uplo="L" if lower else "U",
                              out_avals=_tridiagonal_aval(aval, lower=lower) + [_info(aval)])
    ok = info_ok(info)
    return [nan_where_failed(o, ok) for o in outs]


tridiagonal_p = declare("tridiagonal", _tridiagonal_aval, _tridiagonal_impl)
def_no_derivative(tridiagonal_p)


def tridiagonal(a, *, lower: bool = True):
    """(a', d, e, taus): the Hermitian a reduced to tridiagonal form T = Q^H a Q, reading only
    its `lower` (or upper) triangle; d is T's diagonal, e its off-diagonal, and a' holds them
    with the Householder reflectors (scale factors taus) in the rest of that triangle."""
    return tuple(tridiagonal_p.bind(a, lower=bool(lower)))
