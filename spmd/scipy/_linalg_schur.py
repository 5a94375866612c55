"""The functions of jax.scipy.linalg built on the Schur and Hessenberg reductions: schur,
hessenberg, rsf2csf, sqrtm, funm and solve_sylvester.

The triangular recurrences (the square root's, Parlett's for funm, Bartels-Stewart's for
Sylvester) are computed a diagonal (or anti-diagonal) at a time rather than an element at a time
as JAX does: every element of one diagonal depends only on the diagonals before it, and with the
unknown elements still zero, one matrix product gives all their sums at once. So a batch of
matrices takes n - 1 (or m + n - 1) steps of whole-matrix operations and no scalar loop.
"""
from __future__ import annotations

from functools import partial

import numpy as np

import spmd.numpy as jnp
from spmd.numpy import linalg as np_linalg
from spmd.numpy._core import promote_dtypes_inexact
from spmd.transforms.api import vmap
from spmd.transforms.jit import jit
from spmd.transforms.lax import linalg as lax_linalg
from spmd.transforms.lax import linalg_condensed
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.slicing import dynamic_slice

_HIGHEST = "highest"


def _dot(a, b):
    return jnp.matmul(a, b, precision=_HIGHEST)


def _mH(x):
    return jnp.conjugate(jnp.swapaxes(x, -1, -2))


def _to_complex(dtype):
    """The complex dtype of the same precision (ints become the default complex, as in JAX)."""
    return jnp.result_type(jnp.result_type(dtype, 1.0), np.complex64)


def _offsets(n):
    """col - row for an n x n matrix: the diagonal each element lies on."""
    return jnp.arange(n)[None, :] - jnp.arange(n)[:, None]


# ---------------------------------------------------------------- schur, hessenberg, rsf2csf
@partial(jit, static_argnames=("output",))
def _schur(a, output):
    if output == "complex":
        a = a.astype(_to_complex(a.dtype))
    return linalg_condensed.schur(a)


def schur(a, output: str = "real"):
    """(T, Z) with a = Z T Z^H, Z unitary and T upper triangular ("complex") or quasi upper
    triangular with 2 x 2 blocks for complex pairs of eigenvalues ("real")."""
    if output not in ("real", "complex"):
        raise ValueError(f"Expected 'output' to be either 'real' or 'complex', got {output=}.")
    return _schur(jnp.asarray(a), output)


@partial(jit, static_argnames=("calc_q",))
def _hessenberg(a, calc_q):
    n = a.shape[-1]
    reduced, taus = linalg_condensed.hessenberg(a)
    h = jnp.triu(reduced, -1)
    if not calc_q:
        return h
    # Q = diag(1, Q'), Q' the product of the reflectors below the first subdiagonal
    if n == 1:
        return h, jnp.ones_like(a)
    inner = lax_linalg.householder_product(reduced[..., 1:, :-1], taus)
    q = jnp.pad(inner, [(0, 0)] * (a.ndim - 2) + [(1, 0), (1, 0)])
    return h, q + jnp.zeros((n, n), a.dtype).at[0, 0].set(1)


def hessenberg(a, *, calc_q: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """H (and Q with calc_q) with a = Q H Q^H, Q unitary and H zero below its first
    subdiagonal."""
    a = jnp.asarray(a)
    if a.ndim >= 2 and a.shape[-1] == 0:
        return (jnp.zeros_like(a), jnp.zeros_like(a)) if calc_q else jnp.zeros_like(a)
    return _hessenberg(a, bool(calc_q))


def _rsf2csf_2d(t, z):
    """One real Schur form made complex: each 2 x 2 block on the diagonal (a subdiagonal element
    that is not negligible) is triangularized by a Givens rotation, from the bottom up."""
    n = t.shape[0]
    eps = jnp.finfo(t.dtype).eps
    columns = jnp.arange(n)

    def rotate(m, t, z):
        mu = np_linalg.eigvals(dynamic_slice(t, (m - 1, m - 1), (2, 2))) - t[m, m]
        r = np_linalg.norm(jnp.stack([mu[0], t[m, m - 1]])).astype(t.dtype)
        c, s = mu[0] / r, t[m, m - 1] / r
        g = jnp.stack([jnp.stack([c.conj(), s]), jnp.stack([-s, c])])
        rows = jnp.stack([t[m - 1], t[m]])
        keep = columns < m - 1
        rotated = jnp.where(keep, rows, _dot(g, jnp.where(keep, 0, rows)))
        t = t.at[m - 1].set(rotated[0]).at[m].set(rotated[1])
        cols = jnp.stack([t[:, m - 1], t[:, m]], axis=1)
        above = (columns < m + 1)[:, None]
        rotated = jnp.where(above, _dot(jnp.where(above, cols, 0), _mH(g)), cols)
        t = t.at[:, m - 1].set(rotated[:, 0]).at[:, m].set(rotated[:, 1])
        zcols = _dot(jnp.stack([z[:, m - 1], z[:, m]], axis=1), _mH(g))
        return t, z.at[:, m - 1].set(zcols[:, 0]).at[:, m].set(zcols[:, 1])

    def step(i, tz):
        t, z = tz
        m = n - i
        coupled = jnp.abs(t[m, m - 1]) > eps * (jnp.abs(t[m - 1, m - 1]) + jnp.abs(t[m, m]))
        rt, rz = rotate(m, t, z)
        t, z = jnp.where(coupled, rt, t), jnp.where(coupled, rz, z)
        return t.at[m, m - 1].set(0), z
    return fori_loop(1, n, step, (t, z)) if n > 1 else (t, z)


@jit
def _rsf2csf(t, z):
    t, z = (x.astype(_to_complex(x.dtype)) for x in (t, z))
    batch = np.broadcast_shapes(t.shape[:-2], z.shape[:-2])
    if not batch:  # no vmap: its indexing of a batch compiles to far more code
        return _rsf2csf_2d(t, z)
    t, z = (jnp.broadcast_to(x, batch + x.shape[-2:]).reshape((-1,) + x.shape[-2:])
            for x in (t, z))
    t, z = vmap(_rsf2csf_2d)(t, z)
    return t.reshape(batch + t.shape[-2:]), z.reshape(batch + z.shape[-2:])


def rsf2csf(T, Z, check_finite: bool = True):
    """(T, Z) of the complex Schur form from the real one (T quasi upper triangular): T made
    upper triangular, Z unitary, Z T Z^H unchanged. Batch axes broadcast."""
    t, z = jnp.asarray(T), jnp.asarray(Z)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError("Input 'T' must be square.")
    if z.ndim < 2 or z.shape[-1] != z.shape[-2]:
        raise ValueError("Input 'Z' must be square.")
    if t.shape[-1] != z.shape[-1]:
        raise ValueError(f"Input array shapes must match: Z: {z.shape} vs. T: {t.shape}")
    return _rsf2csf(t, z)


# ---------------------------------------------------------------- sqrtm, funm
def _sqrtm_triangular(t):
    """U upper triangular with U U = T (Bjorck and Hammarling): along each diagonal d,
    U[i, j] = (T[i, j] - sum_{i<k<j} U[i, k] U[k, j]) / (U[i, i] + U[j, j]), 0 where the sum
    already equals T[i, j]."""
    n = t.shape[-1]
    root = jnp.sqrt(jnp.diagonal(t, axis1=-2, axis2=-1))
    total = root[..., :, None] + root[..., None, :]
    offsets = _offsets(n)

    def diagonal(d, u):
        rest = t - _dot(u, u)  # the unknown diagonal d is still 0 in u
        return jnp.where(offsets == d, jnp.where(rest == 0, 0, rest / total), u)
    return fori_loop(1, n, diagonal, jnp.where(offsets == 0, root[..., None, :], 0).astype(
        t.dtype))


@jit
def _sqrtm(a):
    t, z = _schur(a, "complex")
    return _dot(_dot(z, _sqrtm_triangular(t)), _mH(z))


def sqrtm(A, blocksize: int = 1):
    """The principal square root X of A (X X = A), complex, by the complex Schur method."""
    if blocksize > 1:
        raise NotImplementedError("Blocked version is not implemented yet.")
    a = jnp.asarray(A)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"sqrtm: A must be a (batch of) square matrices, got shape {a.shape}")
    return _sqrtm(a)


@jit
def _parlett(f, t):
    """F upper triangular with F T = T F, from its diagonal (Golub and Van Loan, algorithm
    11.1.1): along each diagonal, F[i, j] = (T F - F T)[i, j] / (T[j, j] - T[i, i]) with the
    unknown F[i, j] still 0. Also the smallest |T[j, j] - T[i, i]| met (from |T[0, 0]|, as
    JAX starts)."""
    n = t.shape[-1]
    d = jnp.diagonal(t)
    gaps = d[None, :] - d[:, None]
    offsets = _offsets(n)

    def diagonal(k, f):
        s = _dot(t, f) - _dot(f, t)
        return jnp.where(offsets == k, jnp.where(gaps != 0, s / jnp.where(gaps != 0, gaps, 1), s),
                         f)
    smallest = jnp.min(jnp.where(offsets > 0, jnp.abs(gaps), jnp.inf))
    return fori_loop(1, n, diagonal, f), jnp.minimum(jnp.abs(t[0, 0]), smallest)


def funm(A, func, disp: bool = True):
    """func of the matrix A, from func of its eigenvalues: through the complex Schur form
    A = Z T Z^H and Parlett's recurrence F T = T F. The result is complex. With disp=False,
    (F, an estimate of its relative error)."""
    a = jnp.asarray(A)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("expected square array_like input")
    t, z = rsf2csf(*schur(a))
    f = jnp.diag(func(jnp.diagonal(t))).astype(t.dtype)
    f, smallest = _parlett(f, t)
    f = _dot(_dot(z, f), _mH(z))
    if disp:
        return f
    tol = jnp.finfo(f.dtype).eps
    smallest = jnp.where(smallest == 0, tol, smallest)
    norm = np_linalg.norm(jnp.triu(t, 1), 1)
    err = jnp.where(jnp.any(jnp.isinf(f)), np.inf,
                    jnp.minimum(1, jnp.maximum(tol, (tol / smallest) * norm)))
    return f, err


# ---------------------------------------------------------------- solve_sylvester
def _sylvester_triangular(r, low, f):
    """Y with R Y + Y L = F, R upper and L lower triangular (Bartels-Stewart), one
    anti-diagonal at a time from the bottom right: Y[i, j] needs Y[k, j] for k > i and
    Y[i, k] for k > j only."""
    m, n = f.shape[-2:]
    level = (m - 1 - jnp.arange(m))[:, None] + (n - 1 - jnp.arange(n))[None, :]
    total = (jnp.diagonal(r, axis1=-2, axis2=-1)[..., :, None]
             + jnp.diagonal(low, axis1=-2, axis2=-1)[..., None, :])

    def antidiagonal(k, y):
        rest = f - _dot(r, y) - _dot(y, low)
        return jnp.where(level == k, rest / total, y)
    return fori_loop(0, m + n - 1, antidiagonal, jnp.zeros_like(f)), total


@partial(jit, static_argnames=("method",))
def _solve_sylvester(a, b, c, *, method, tol):
    if method == "schur":
        r, u = _schur(a, "complex")
        s, v = _schur(_mH(b), "complex")
        y, sums = _sylvester_triangular(r, _mH(s), _dot(_dot(_mH(u), c.astype(r.dtype)), v))
        x = _dot(_dot(u, y), _mH(v))
    else:
        wa, ua = np_linalg.eig(a)
        wb, ub = np_linalg.eig(b)
        sums = wa[..., :, None] + wb[..., None, :]
        x = _dot(_dot(ua, np_linalg.solve(ua, _dot(c.astype(wa.dtype), ub)) / sums),
                 np_linalg.inv(ub))
    if not jnp.issubdtype(c.dtype, np.complexfloating):
        x = x.real
    singular = jnp.any(jnp.abs(sums) < tol, axis=(-2, -1))[..., None, None]
    return jnp.where(singular, np.nan, x)


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8):
    """X with A X + X B = C (A [..., m, m], B [..., n, n], C [..., m, n], batch axes
    broadcast), by Bartels-Stewart on the Schur forms ("schur") or by eigendecomposition
    ("eigen"); NaN where an eigenvalue of A and one of B sum to less than tol in magnitude."""
    a, b, c = promote_dtypes_inexact("solve_sylvester", jnp.asarray(A), jnp.asarray(B),
                                     jnp.asarray(C))
    m, n = c.shape[-2:] if c.ndim >= 2 else (None, None)
    if c.ndim < 2 or a.shape[-2:] != (m, m) or b.shape[-2:] != (n, n):
        raise ValueError(f"Incompatible shapes for Sylvester equation:\nA: {a.shape}\n"
                         f"B: {b.shape}\nC: {c.shape}")
    if method not in ("schur", "eigen"):
        raise ValueError(f"Unrecognized method {method}. The two valid methods are either "
                         f"\"schur\" or \"eigen\".")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2], c.shape[:-2])
    a, b, c = (jnp.broadcast_to(x, batch + x.shape[-2:]) for x in (a, b, c))
    return _solve_sylvester(a, b, c, method=method, tol=tol)
