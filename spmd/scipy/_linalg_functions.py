"""The matrix functions and decompositions of jax.scipy.linalg that build on the LAPACK kernels
spmd already calls: expm (and its Frechet derivative), polar (from the SVD), eigh_tridiagonal
(the dense tridiagonal matrix through eigh) and qr_multiply (from the QR factors)."""
from __future__ import annotations

from functools import partial

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes
from spmd.numpy import linalg as np_linalg
from spmd.numpy._core import promote_dtypes_inexact, promote_to_inexact
from spmd.transforms.api import jvp, vmap
from spmd.transforms.jit import jit
from spmd.transforms.lax import linalg as lax_linalg
from spmd.transforms.lax.control_flow import fori_loop

_HIGHEST = "highest"

# Higham (2005): per precision, the Pade degree and the largest 1-norm it covers to rounding;
# larger norms are halved s times first and the result squared s times
_PADE_13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
            129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
            40840800., 960960., 16380., 182., 1.)
_PADE_7 = (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.)
_THETA = {8: (_PADE_13, 5.371920351148152), 4: (_PADE_7, 3.925724783138660)}


def _dot(a, b):
    return jnp.matmul(a, b, precision=_HIGHEST)


def _pade(a, b):
    """(U, V): the odd and even parts of the Pade numerator, p = V + U and q = V - U."""
    ident = jnp.eye(a.shape[-1], dtype=a.dtype)
    powers = [ident, _dot(a, a)]  # even powers A^0, A^2, A^4, ...
    while len(powers) < len(b) // 2:
        powers.append(_dot(powers[-1], powers[1]))
    odd = sum(b[2 * i + 1] * p for i, p in enumerate(powers))
    even = sum(b[2 * i] * p for i, p in enumerate(powers))
    return _dot(a, odd), even


def _expm_2d(a, upper_triangular, max_squarings):
    b, max_norm = _THETA[8 if np.dtype(a.dtype).itemsize in (8, 16) else 4]
    norm = jnp.max(jnp.sum(jnp.abs(a), axis=0))
    # ceil, as Higham's algorithm has it: the scaled norm is then within the Pade range (JAX
    # 0.10.2 takes the floor, up to twice the range and 1e-8 relative error in float64)
    squarings = jnp.maximum(0, jnp.ceil(jnp.log2(norm / max_norm)))
    odd, even = _pade(a / (2 ** squarings).astype(a.dtype), b)
    p, q = even + odd, even - odd
    r = (lax_linalg.triangular_solve(q, p, left_side=True, lower=False) if upper_triangular
         else np_linalg.solve(q, p))
    r = fori_loop(0, max_squarings, lambda i, r: jnp.where(i < squarings, _dot(r, r), r), r)
    return jnp.where(squarings > max_squarings, np.nan, r)


def _square_matrices(name, a):
    a, = promote_to_inexact(name, a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={a.shape}.")
    return a


def _over_batch(fn, a):
    """fn of one matrix, mapped over a's leading axes."""
    if a.ndim == 2:
        return fn(a)
    out = vmap(fn)(a.reshape((-1,) + a.shape[-2:]))
    return jnp.reshape(out, a.shape[:-2] + out.shape[1:]) if not isinstance(out, tuple) else \
        tuple(jnp.reshape(o, a.shape[:-2] + o.shape[1:]) for o in out)


@partial(jit, static_argnames=("upper_triangular", "max_squarings"))
def _expm(a, *, upper_triangular, max_squarings):  # one program: some 40 matrix ops
    return _over_batch(lambda m: _expm_2d(m, upper_triangular, max_squarings), a)


def expm(A, *, upper_triangular=False, max_squarings=16):
    """e^A by scaling and squaring with a Pade approximant (degree 13 in 64-bit, 7 in 32-bit);
    NaN where the norm needs more than `max_squarings` squarings."""
    a = _square_matrices("expm", A)
    return _expm(a, upper_triangular=bool(upper_triangular), max_squarings=int(max_squarings))


def expm_frechet(A, E, *, method=None, compute_expm=True):
    """The Frechet derivative of expm at A in the direction E (with expm(A) first, unless
    compute_expm=False): the forward-mode derivative."""
    a, e = jnp.asarray(A), jnp.asarray(E)
    if a.ndim < 2 or a.shape[-2] != a.shape[-1]:
        raise ValueError(f"expected A to be a (batched) square matrix, got A.shape={a.shape}")
    if e.ndim < 2 or e.shape[-2] != e.shape[-1]:
        raise ValueError(f"expected E to be a (batched) square matrix, got E.shape={e.shape}")
    if a.shape != e.shape:
        raise ValueError("expected A and E to be the same shape, got "
                         f"A.shape={a.shape} E.shape={e.shape}")
    a, e = promote_dtypes_inexact("expm_frechet", a, e)
    value, derivative = jvp(expm, (a,), (e,))
    return (value, derivative) if compute_expm else derivative


def polar(a, side="right", *, method="qdwh", eps=None, max_iterations=None):
    """(u, p): a = u p (side "right", p Hermitian positive semidefinite n x n) or a = p u
    ("left", p m x m), u with orthonormal rows or columns. Both methods compute it from the
    SVD a = U S V^H: u = U V^H, p = V S V^H or U S U^H (JAX's "qdwh" iteration converges to
    the same factors)."""
    a = jnp.asarray(a)
    if a.ndim < 2:
        raise ValueError("The input `a` must be at least a 2-D array.")
    if side not in ("right", "left"):
        raise ValueError("The argument `side` must be either 'right' or 'left'.")
    if method not in ("qdwh", "svd"):
        raise ValueError(f"Unknown polar decomposition method {method}.")
    a, = promote_to_inexact("polar", a)
    u, s, vh = np_linalg.svd(a, full_matrices=False)
    s = s.astype(u.dtype)[..., None, :]
    unitary = _dot(u, vh)
    if side == "right":
        v = jnp.conjugate(jnp.swapaxes(vh, -1, -2))
        return unitary, _dot(v * s, vh)
    return unitary, _dot(u * s, jnp.conjugate(jnp.swapaxes(u, -1, -2)))


def eigh_tridiagonal(d, e, *, eigvals_only=False, select="a", select_range=None, tol=None,
                     key=None):
    """Eigenvalues (ascending) and eigenvectors (columns) of the real symmetric tridiagonal
    matrix with diagonal d and off-diagonal e; select="i" keeps the indices in select_range
    (inclusive)."""
    d, e = jnp.asarray(d), jnp.asarray(e)
    if d.dtype != e.dtype:
        raise TypeError("diagonal and off-diagonal values must have same dtype, got "
                        f"{d.dtype} and {e.dtype}")
    if d.dtype not in (np.float32, np.float64) and not dtypes.issubdtype(
            d.dtype, np.complexfloating):
        raise TypeError(f"Only float32 and float64 inputs are supported as inputs to "
                        f"eigh_tridiagonal, got {d.dtype}")
    n = d.shape[0]
    if select == "a":
        first, last = 0, n - 1
    elif select == "i":
        if select_range is None:
            raise ValueError("for select='i', select_range must be specified.")
        first, last = int(select_range[0]), int(select_range[1])
        if first > last:
            raise ValueError("Got empty index range in select_range.")
    elif select == "v":
        raise NotImplementedError("eigh_tridiagonal(..., select='v') is not implemented yet.")
    else:
        raise ValueError("'select must have a value in {'a', 'i', 'v'}.")
    matrix = jnp.diag(d) + jnp.diag(e, 1) + jnp.diag(jnp.conjugate(e), -1)
    w, v = np_linalg.eigh(matrix)
    w, v = jnp.real(w)[first:last + 1], v[:, first:last + 1]
    return w if eigvals_only else (w, v)


def qr_multiply(a, c, mode="right", pivoting=False, conjugate=False, overwrite_a=False,
                overwrite_c=False):
    """(c Q or Q c, r) with Q, r from the economic QR decomposition of a, without returning Q:
    mode "right" gives c @ Q, "left" Q @ c; conjugate uses conj(Q)."""
    if pivoting:
        raise NotImplementedError("qr_multiply: pivoting is not supported by spmd yet")
    a, c = promote_dtypes_inexact("qr_multiply", a, c)
    if mode not in ("right", "left"):
        raise ValueError(f"mode must be 'right' or 'left', got {mode!r}")
    vector = c.ndim == 1
    if vector:
        c = c[:, None] if mode == "left" else c[None, :]
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "left" and c.shape[-2] != k:
        raise ValueError(f"Array shapes are not compatible for Q @ c operation: a has shape "
                         f"{tuple(a.shape)} so Q has {k} columns, but c has {c.shape[-2]} "
                         f"rows (expected {k}).")
    if mode == "right" and c.shape[-1] != m:
        raise ValueError(f"Array shapes are not compatible for c @ Q operation: a has shape "
                         f"{tuple(a.shape)} so Q has {m} rows, but c has {c.shape[-1]} "
                         f"columns (expected {m}).")
    q, r = np_linalg.qr(a, mode="reduced")
    if conjugate:
        q = jnp.conjugate(q)
    out = _dot(c, q) if mode == "right" else _dot(q, c)
    return (out.ravel() if vector else out), r
