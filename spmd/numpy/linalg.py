"""spmd.numpy.linalg: jax.numpy.linalg on the decompositions of spmd.lax.linalg.

Every function takes batches of matrices ([..., m, n]: the leading axes are a batch), promotes
integers to the default float, and follows JAX's conventions: a singular or indefinite matrix
gives inf or NaN instead of raising, and results are namedtuples where JAX's are.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_to, promote_to_inexact, shape_of
from spmd.numpy._creation import eye, zeros
from spmd.numpy._diagonals import diagonal as _diagonal
from spmd.numpy._linalg import matmul, outer as _outer, tensordot, vecdot  # noqa: F401
from spmd.numpy._misc_more import cross as _cross
from spmd.numpy._reductions import max as _max, min as _min, prod as _prod, sum as _sum
from spmd.numpy._selection import where
from spmd.numpy._shape import expand_dims, matrix_transpose, moveaxis, reshape
from spmd.transforms import dtypes
from spmd.transforms.lax import linalg as lax_linalg


__all__ = ["cholesky", "cond", "cross", "vecdot",
           "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm",
           "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "tensorinv",
           "tensorsolve", "trace", "vector_norm"]


class EigResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


def inexact_matrices(name: str, *args, square: bool = False):
    """The operands as inexact arrays of one dtype; the first must be a batch of matrices."""
    out = promote_to_inexact_unbroadcast(name, *args)
    s = shape_of(out[0])
    if len(s) < 2:
        raise ValueError(f"{name}: argument must have at least 2 dimensions (a batch of "
                         f"matrices [..., m, n]), got shape {s}")
    if square and s[-1] != s[-2]:
        raise ValueError(f"{name}: last 2 dimensions of the array must be square, got shape {s}")
    return out


def promote_to_inexact_unbroadcast(name: str, *args):
    """promote_to_inexact's dtypes without its broadcasting (matrix operands differ in shape)."""
    arrays = [asarray_value(a) for a in args]
    scalars = promote_to_inexact(name, *[zeros((), a.dtype) for a in arrays])
    dtype = scalars[0].dtype
    return [a.astype(dtype) if a.dtype != dtype else a for a in arrays]


def _mH(x):
    return uf.conjugate(matrix_transpose(x)) if dtypes.is_complex(x.dtype) else matrix_transpose(x)


def _real_dtype(dtype):
    return np.finfo(dtype).dtype


# ---------------------------------------------------------------- decompositions
def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """L (lower, a = L L^H) or, with upper, L^H; NaN where a is not positive definite."""
    a, = inexact_matrices("cholesky", a, square=True)
    factor = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _mH(factor) if upper else factor


def qr(a, mode: str = "reduced"):
    """QRResult(Q, R) with a = Q R; mode "reduced", "complete" or "r" (R alone)."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: unsupported mode {mode!r}; use 'reduced', 'complete' or 'r'")
    a, = inexact_matrices("qr", a)
    q, r = lax_linalg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
    """SVDResult(U, S, Vh) with a = U diag(S) Vh, S descending; S alone without compute_uv."""
    if subset_by_index is not None:
        raise NotImplementedError("svd: subset_by_index is not supported on CPU")
    a, = inexact_matrices("svd", a)
    if not compute_uv:
        return lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=False)
    u, s, vh = lax_linalg.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x):
    return svd(x, compute_uv=False)


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):  # noqa: N803 - NumPy's name
    """EighResult(eigenvalues ascending, eigenvectors as columns) of Hermitian matrices."""
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    a, = inexact_matrices("eigh", a, square=True)
    v, w = lax_linalg.eigh(a, lower=UPLO != "U", symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eig(a):
    """EigResult(eigenvalues, right eigenvectors as columns) of general square matrices:
    complex, in LAPACK's order (not sorted)."""
    a, = inexact_matrices("eig", a, square=True)
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    a, = inexact_matrices("eigvals", a, square=True)
    return lax_linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):  # noqa: N803
    return eigh(a, UPLO, symmetrize_input).eigenvalues


# ---------------------------------------------------------------- solving
def _lu_solve(lu, perm, b):
    """x with a x = b from a's LU (P a = L U), b [..., m, k] with a's batch axes."""
    x = lax_linalg.triangular_solve(lu, lax_linalg.permute_rows(b, perm), left_side=True,
                                    lower=True, unit_diagonal=True)
    return lax_linalg.triangular_solve(lu, x, left_side=True, lower=False)


def solve(a, b):
    """x with a @ x = b; b is a vector [m] or a batch of matrices [..., m, k]."""
    a, b = inexact_matrices("solve", a, b, square=True)
    sa, sb = shape_of(a), shape_of(b)
    vector = len(sb) == 1
    if vector:
        b = b[:, None]
        sb = shape_of(b)
    if len(sb) < 2 or sb[-2] != sa[-1]:
        raise ValueError(f"solve: b of shape {shape_of(b) if not vector else sb[:1]} does not "
                         f"match a of shape {sa}: b needs {sa[-1]} rows (a vector [m] or a "
                         f"batch of matrices [..., m, k])")
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    a = broadcast_to(a, batch + sa[-2:])
    b = broadcast_to(b, batch + sb[-2:])
    lu, _, perm = lax_linalg.lu(a)
    x = _lu_solve(lu, perm, b)
    return x[..., 0] if vector else x


def inv(a):
    """The inverse of each square matrix; inf or NaN where singular."""
    a, = inexact_matrices("inv", a, square=True)
    n = shape_of(a)[-1]
    return solve(a, broadcast_to(eye(n, dtype=a.dtype), shape_of(a)))


def _lu_parity_sign(pivots, dtype):
    """(-1) to the number of row swaps LAPACK made."""
    swaps = _sum(pivots != np.arange(shape_of(pivots)[-1], dtype=pivots.dtype), axis=-1)
    return (1 - 2 * (swaps % 2)).astype(dtype)


def slogdet(a, *, method: str | None = None):
    """SlogdetResult(sign, log|det|): sign 0 and logabsdet -inf where a is singular."""
    if method not in (None, "lu"):
        raise ValueError(f"slogdet: unsupported method {method!r}; use 'lu'")
    a, = inexact_matrices("slogdet", a, square=True)
    lu, pivots, _ = lax_linalg.lu(a)
    diag = _diagonal(lu, axis1=-2, axis2=-1)
    absdiag = uf.absolute(diag)
    logabsdet = _sum(uf.log(absdiag), axis=-1)
    unit = diag / where(absdiag == 0, 1, absdiag).astype(a.dtype)
    sign = _prod(unit, axis=-1) * _lu_parity_sign(pivots, a.dtype)
    singular = _sum(absdiag == 0, axis=-1) > 0
    sign = where(singular, 0, sign).astype(a.dtype)
    return SlogdetResult(sign, where(singular, -np.inf, logabsdet))


def det(a):
    """The determinant of each square matrix."""
    a, = inexact_matrices("det", a, square=True)
    lu, pivots, _ = lax_linalg.lu(a)
    return _prod(_diagonal(lu, axis1=-2, axis2=-1), axis=-1) * _lu_parity_sign(pivots, a.dtype)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """(x, resid, rank, s): the least-squares x minimizing |a x - b| (a [m, n], b [m] or
    [m, k]) through the SVD, singular values below rcond * max(s) treated as zero."""
    a, b = inexact_matrices("lstsq", a, b)
    if len(shape_of(a)) != 2:
        raise TypeError(f"lstsq: {len(shape_of(a))}-dimensional array given. Array must be "
                        "two-dimensional")
    vector = len(shape_of(b)) == 1
    if vector:
        b = b[:, None]
    if len(shape_of(b)) != 2:
        raise TypeError(f"lstsq: {len(shape_of(b))}-dimensional array given. Array must be one "
                        "or two-dimensional")
    if shape_of(a)[0] != shape_of(b)[0]:
        raise ValueError(f"lstsq: leading dimensions of input arrays must match, got shapes "
                         f"{shape_of(a)} and {shape_of(b)}")
    m, n = shape_of(a)
    if rcond is None:
        rcond = float(np.finfo(a.dtype).eps) * max(m, n)
    u, s, vt = lax_linalg.svd(a, full_matrices=False)
    keep = (s > 0) & (s >= rcond * s[0])
    rank = _sum(keep)
    s_inv = where(keep, 1 / where(keep, s, 1), 0).astype(a.dtype)[:, None]
    x = matmul(_mH(vt), s_inv * matmul(_mH(u), b))
    resid = _sum(uf.absolute(b - matmul(a, x)) ** 2, axis=0)
    if numpy_resid and not (rank == n and m > n):
        resid = zeros((0,), resid.dtype)
    return (x[:, 0] if vector else x), resid, rank, s


def _rtol_default(shape, dtype):
    return max(shape[-2:]) * np.finfo(dtype).eps


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """The Moore-Penrose pseudo-inverse, singular values at or below rtol * max(s) dropped."""
    a, = inexact_matrices("pinv", a)
    rtol = rcond if rtol is None else rtol
    if rtol is None:
        rtol = _rtol_default(shape_of(a), a.dtype)
    u, s, vh = lax_linalg.svd(uf.conjugate(a) if dtypes.is_complex(a.dtype) else a,
                              full_matrices=False)
    cutoff = asarray_value(rtol)[..., None] * _max(s, axis=-1, keepdims=True)
    s_inv = where(s > cutoff, 1 / where(s > cutoff, s, 1), 0).astype(a.dtype)
    return matmul(matrix_transpose(vh) * s_inv[..., None, :], matrix_transpose(u))


def matrix_rank(M, rtol=None, *, tol=None):  # noqa: N803 - NumPy's name
    """The number of singular values above rtol * max(s) (or above tol, an absolute bound)."""
    M = asarray_value(M)
    if len(shape_of(M)) < 2:  # a vector or a scalar: rank 1 unless it is all zeros
        return (_sum(M != 0) > 0).astype(np.int32)
    M, = inexact_matrices("matrix_rank", M)
    s = svd(M, compute_uv=False)
    if tol is not None:
        cutoff = asarray_value(tol)
    else:
        rtol = _rtol_default(shape_of(M), M.dtype) if rtol is None else rtol
        cutoff = asarray_value(rtol) * _max(s, axis=-1)
    return _sum(s > asarray_value(cutoff)[..., None], axis=-1).astype(np.int32)


def matrix_power(a, n: int):
    """a raised to the integer power n by repeated squaring (n < 0: of the inverse)."""
    a = asarray_value(a)
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"matrix_power: argument must be a batch of square matrices "
                         f"[..., n, n], got shape {s}")
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}")
    if n == 0:
        return broadcast_to(eye(s[-1], dtype=a.dtype), s)
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices (the first and last may be vectors)."""
    arrays = [asarray_value(x) for x in arrays]
    if len(arrays) < 2:
        raise ValueError("multi_dot: expected at least two arrays")
    out = arrays[0]
    for x in arrays[1:]:
        out = matmul(out, x)
    return out


def tensorinv(a, ind: int = 2):
    """The inverse of `a` seen as a map from its first `ind` axes to the rest."""
    a = asarray_value(a)
    s = shape_of(a)
    rows, cols = int(np.prod(s[:ind])), int(np.prod(s[ind:]))
    if rows != cols:
        raise ValueError(f"tensorinv: the first {ind} axes of shape {s} ({rows} elements) must "
                         f"hold as many elements as the rest ({cols})")
    return reshape(inv(reshape(a, (rows, cols))), s[ind:] + s[:ind])


def tensorsolve(a, b, axes=None):
    """x with tensordot(a, x, x.ndim) = b."""
    a, b = promote_to_inexact_unbroadcast("tensorsolve", a, b)
    if axes is not None:
        nd = len(shape_of(a))
        moved = [ax % nd for ax in axes]
        a = moveaxis(a, moved, [nd - len(moved) + i for i in range(len(moved))])
    sb = shape_of(b)
    x_shape = shape_of(a)[len(sb):]
    rows, cols = int(np.prod(sb)), int(np.prod(x_shape))
    if rows != cols:
        raise ValueError(f"tensorsolve: a of shape {shape_of(a)} is not square over b's "
                         f"shape {sb}")
    return reshape(solve(reshape(a, (rows, cols)), reshape(b, (rows,))), x_shape)


# ---------------------------------------------------------------- norms
def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):  # noqa: A002
    x, = promote_to_inexact("vector_norm", asarray_value(x))
    if axis is None:
        x = reshape(x, (-1,)) if not keepdims else x
        axis = None if keepdims else 0
    return _vector_norm(x, ord, axis, keepdims)


def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    mag = uf.absolute(x)
    if ord is None or ord == 2:
        return uf.sqrt(_sum(mag * mag, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return _max(mag, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _min(mag, axis=axis, keepdims=keepdims)
    if ord == 0:
        return _sum(mag != 0, axis=axis, keepdims=keepdims).astype(mag.dtype)
    if ord == 1:
        return _sum(mag, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid order {ord!r} for vectors")
    p = float(ord)
    return _sum(mag ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):  # noqa: A002
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002
    nd = len(shape_of(x))
    r, c = (ax % nd for ax in axes)
    if r == c:
        raise ValueError(f"norm: the two axes {axes} must be different")
    if ord in (None, "fro"):
        return uf.sqrt(_sum(uf.absolute(x) ** 2, axis=(r, c), keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (r, c) if ord in (1, -1) else (c, r)
        sums = _sum(uf.absolute(x), axis=summed, keepdims=True)
        reduce = _max if ord in (1, np.inf) else _min
        out = reduce(sums, axis=other, keepdims=True)
    elif ord in (2, -2, "nuc"):
        moved = moveaxis(x, (r, c), (-2, -1))
        s = svd(moved, compute_uv=False)
        out = (_max(s, axis=-1) if ord == 2 else _min(s, axis=-1) if ord == -2
               else _sum(s, axis=-1))
        if keepdims:
            out = expand_dims(out, tuple(sorted((r, c))))
        return out
    else:
        raise ValueError(f"norm: invalid order {ord!r} for matrices")
    return out if keepdims else reshape(out, tuple(
        n for i, n in enumerate(shape_of(out)) if i not in (r, c)))


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002
    """numpy.linalg.norm: a vector norm over one axis, a matrix norm over two; with neither
    axis nor ord, the 2-norm of all elements."""
    x, = promote_to_inexact("norm", asarray_value(x))
    nd = len(shape_of(x))
    if axis is None:
        if ord is None:
            out = _vector_norm(reshape(x, (-1,)), None, 0, False)
            return reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(f"norm: improper number of dimensions to norm: an order {ord!r} "
                             f"needs a vector or a matrix, got shape {shape_of(x)}; pass axis")
        axis = tuple(range(nd))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: improper number of axes {axis}: give one (a vector norm) or two "
                     "(a matrix norm)")


def cond(x, p=None):
    """The condition number of each matrix in the norm p (2 by default: the ratio of the
    largest and smallest singular values)."""
    x, = inexact_matrices("cond", x)
    if p is None or p in (2, -2):
        s = svd(x, compute_uv=False)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    return norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))


# ---------------------------------------------------------------- the Array API's names
def diagonal(x, /, *, offset: int = 0):
    return _diagonal(x, offset, axis1=-2, axis2=-1)


def trace(x, /, *, offset: int = 0, dtype=None):
    return _sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def outer(x1, x2, /):
    if len(shape_of(asarray_value(x1))) != 1 or len(shape_of(asarray_value(x2))) != 1:
        raise ValueError(f"outer: input arrays must be one-dimensional, got shapes "
                         f"{shape_of(asarray_value(x1))} and {shape_of(asarray_value(x2))}")
    return _outer(x1, x2)


def cross(x1, x2, /, *, axis=-1):
    """The cross product of (arrays of) 3-vectors along `axis` (numpy.linalg.cross: 3-vectors
    only, unlike jnp.cross)."""
    x1, x2 = asarray_value(x1), asarray_value(x2)
    n1, n2 = shape_of(x1)[axis], shape_of(x2)[axis]
    if n1 != 3 or n2 != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, but they "
                         f"have x1.shape[axis]={n1} and x2.shape[axis]={n2}")
    return _cross(x1, x2, axis=axis)
