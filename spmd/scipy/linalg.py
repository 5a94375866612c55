"""spmd.scipy.linalg: jax.scipy.linalg's factor-and-solve functions (cho_factor/cho_solve,
lu/lu_factor/lu_solve, solve_triangular) and SciPy's spellings of the decompositions, on
spmd.lax.linalg; the special matrices, the matrix functions and the Schur-based ones live in the
files named in __all__. SciPy's `overwrite_*` and `check_finite` are accepted and ignored, as in
JAX."""
from __future__ import annotations

import warnings

import numpy as np

from spmd.numpy import linalg as np_linalg
from spmd.numpy._core import broadcast_to, shape_of
from spmd.numpy._creation import eye
from spmd.numpy._diagonals import tril, triu
from spmd.numpy._shape import matrix_transpose
from spmd.scipy._linalg_matrices import (block_diag, circulant, companion,  # noqa: F401
                                         convolution_matrix, dft, fiedler, fiedler_companion,
                                         hadamard, hankel, helmert, hilbert, invhilbert,
                                         invpascal, leslie, pascal, toeplitz)
from spmd.scipy._linalg_functions import (eigh_tridiagonal, expm, expm_frechet,  # noqa: F401
                                           polar, qr_multiply)
from spmd.scipy._linalg_schur import (funm, hessenberg, rsf2csf, schur, solve_sylvester,  # noqa: F401
                                      sqrtm)
from spmd.transforms.lax import linalg as lax_linalg

__all__ = ["cho_factor", "cho_solve", "cholesky", "det", "eigh", "inv", "lu", "lu_factor",
           "lu_solve", "qr", "solve", "solve_triangular", "svd",
           # the special matrices (spmd/scipy/_linalg_matrices.py)
           "block_diag", "circulant", "companion", "convolution_matrix", "dft", "fiedler",
           "fiedler_companion", "hadamard", "hankel", "helmert", "hilbert", "invhilbert",
           "invpascal", "leslie", "pascal", "toeplitz",
           # the matrix functions (spmd/scipy/_linalg_functions.py)
           "eigh_tridiagonal", "expm", "expm_frechet", "polar", "qr_multiply",
           # the Schur and Hessenberg forms and what builds on them (spmd/scipy/_linalg_schur.py)
           "funm", "hessenberg", "rsf2csf", "schur", "solve_sylvester", "sqrtm"]

_matrices = np_linalg.inexact_matrices  # one promotion and shape check for both modules


def _as_columns(name, a, b):
    """b as a batch of matrices [..., m, k] against a [..., m, m]; whether it was a vector."""
    m = shape_of(a)[-1]
    vector = len(shape_of(b)) == 1 or (
        len(shape_of(a)) == len(shape_of(b)) + 1 and shape_of(b)[-1] == m)
    if vector and len(shape_of(b)) > 1:
        warnings.warn(f"spmd.scipy.linalg.{name}: batched 1D solves with b.ndim > 1 are "
                      f"deprecated, and in the future will be treated as a batched 2D solve. "
                      f"Use {name}(a, b[..., None]).squeeze(-1) to avoid this warning.",
                      FutureWarning, stacklevel=3)
    if vector:
        b = b[..., None]
    if len(shape_of(b)) < 2 or shape_of(b)[-2] != m:
        given = shape_of(b)[:-1] if vector else shape_of(b)
        raise ValueError(f"{name}: right-hand side of shape {given} does not match the "
                         f"{m} x {m} matrix of shape {shape_of(a)}: it needs {m} rows")
    batch = np.broadcast_shapes(shape_of(a)[:-2], shape_of(b)[:-2])
    a = broadcast_to(a, batch + shape_of(a)[-2:])
    return a, broadcast_to(b, batch + shape_of(b)[-2:]), vector


def _trans_flags(trans):
    codes = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
             2: (True, True), "C": (True, True)}
    if trans not in codes:
        raise ValueError(f"solve_triangular: trans must be 0/'N', 1/'T' or 2/'C', got {trans!r}")
    return codes[trans]


def solve_triangular(a, b, trans=0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, debug=None, check_finite: bool = True):
    """x with op(a) x = b for triangular a; op is a, a.T (trans 1) or a^H (trans 2)."""
    transpose_a, conjugate_a = _trans_flags(trans)
    a, b = _matrices("solve_triangular", a, b, square=True)
    a, b, vector = _as_columns("solve_triangular", a, b)
    x = lax_linalg.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=transpose_a,
                                    conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """The Cholesky factor: upper (a = U^H U) by default, as in SciPy; lower with lower=True."""
    return np_linalg.cholesky(a, upper=not lower)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """(c, lower): the Cholesky factor in the form cho_solve takes."""
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """x with a x = b from cho_factor(a)."""
    c, lower = c_and_lower
    c, b = _matrices("cho_solve", c, b, square=True)
    c, b, vector = _as_columns("cho_solve", c, b)
    # a = L L^H: solve L y = b, then L^H x = y (with U = L^H when the factor is upper)
    y = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                    conjugate_a=not lower)
    x = lax_linalg.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower,
                                    conjugate_a=lower)
    return x[..., 0] if vector else x


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """(lu, piv): L and U packed in one matrix, and LAPACK's row swaps (row i with piv[i])."""
    a, = _matrices("lu_factor", a)
    lu_, pivots, _ = lax_linalg.lu(a)
    return lu_, pivots


def lu_solve(lu_and_piv, b, trans=0, overwrite_b: bool = False, check_finite: bool = True):
    """x with op(a) x = b from lu_factor(a); op is a, a.T (trans 1) or a^H (trans 2)."""
    lu_, pivots = lu_and_piv
    transpose_a, conjugate_a = _trans_flags(trans)
    lu_, b = _matrices("lu_solve", lu_, b, square=True)
    lu_, b, vector = _as_columns("lu_solve", lu_, b)
    perm = lax_linalg.lu_pivots_to_permutation(pivots, shape_of(lu_)[-1])
    if not transpose_a:  # P a = L U: x = U^-1 L^-1 P b
        y = lax_linalg.triangular_solve(lu_, lax_linalg.permute_rows(b, perm), left_side=True,
                                        lower=True, unit_diagonal=True)
        x = lax_linalg.triangular_solve(lu_, y, left_side=True, lower=False)
    else:  # op(a) = op(U) op(L) P: x = P^T op(L)^-1 op(U)^-1 b
        y = lax_linalg.triangular_solve(lu_, b, left_side=True, lower=False, transpose_a=True,
                                        conjugate_a=conjugate_a)
        y = lax_linalg.triangular_solve(lu_, y, left_side=True, lower=True, transpose_a=True,
                                        conjugate_a=conjugate_a, unit_diagonal=True)
        x = _unpermute_rows(y, perm)
    return x[..., 0] if vector else x


def _unpermute_rows(y, perm):
    """z with z[perm] = y: the inverse of permute_rows."""
    onehot = (perm[..., :, None] == np.arange(shape_of(perm)[-1], dtype=perm.dtype)).astype(
        y.dtype)
    return matrix_transpose(onehot) @ y


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """(p, l, u) with a = p l u (p a permutation matrix, l unit lower, u upper); with
    permute_l, (p l, u)."""
    a, = _matrices("lu", a)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    lu_, _, perm = lax_linalg.lu(a)
    lower = tril(lu_[..., :, :k], -1) + eye(m, k, dtype=a.dtype)
    upper = triu(lu_[..., :k, :])
    p = _unpermute_rows(eye(m, dtype=a.dtype), perm)  # a = P^T L U
    return (p @ lower, upper) if permute_l else (p, lower, upper)


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
    """x with a x = b; assume_a "pos" (positive definite) solves through Cholesky."""
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: assume_a must be 'gen', 'sym', 'her' or 'pos', got "
                         f"{assume_a!r}")
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    a, b = _matrices("solve", a, b, square=True)
    a, b, vector = _as_columns("solve", a, b)
    x = np_linalg.solve(a, b)
    return x[..., 0] if vector else x


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    return np_linalg.inv(a)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    return np_linalg.det(a)


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, type: int = 1, check_finite: bool = True,  # noqa: A002
         subset_by_index=None, subset_by_value=None, driver=None):
    """(w, v) of a Hermitian matrix (w alone with eigvals_only); no generalized problem."""
    if b is not None:
        raise NotImplementedError("eigh: the generalized problem (b) is not supported")
    w, v = np_linalg.eigh(a, UPLO="L" if lower else "U")
    return w if eigvals_only else (w, v)


def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
    """SciPy's modes: "full" (q m x m), "economic" (q m x k), "r" (r alone, as a 1-tuple)."""
    if pivoting:
        raise NotImplementedError("qr: pivoting is not supported")
    modes = {"full": "complete", "economic": "reduced", "r": "r"}
    if mode not in modes:
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r}")
    out = np_linalg.qr(a, modes[mode])
    return (out,) if mode == "r" else tuple(out)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    out = np_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out

