"""jax.lax.linalg's products with factors kept implicit: ormqr (Q of a QR factorization applied
to a matrix without forming Q, LAPACK's ormqr/unmqr) and cholesky_update (the Cholesky factor of
A + w w^T from A's, by Givens rotations, written as lax code as JAX writes it on CPU).

JAX differentiates neither, and neither does spmd (their JVP rules say so).
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.elementwise import abs_p
from spmd.transforms.lax.control_flow import fori_loop
from spmd.transforms.lax.lapack import check_matrix, def_no_derivative, full_like, lapack_call
from spmd.transforms.lax.linalg import declare
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lax.slicing import dynamic_index_in_dim, dynamic_update_index_in_dim

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _declare(name, aval_rule, impl):
    prim = declare(name, aval_rule, impl, multiple_results=False)
    def_no_derivative(prim)
    return prim


# ---------------------------------------------------------------- ormqr
def _ormqr_aval(a, taus, c, *, left, transpose):
    check_matrix("ormqr", a)
    check_matrix("ormqr", c)
    m = a.shape[-2]
    if (c.shape[-2] if left else c.shape[-1]) != m:
        raise ValueError(f"ormqr with left={left} expects c to have as many "
                         f"{'rows' if left else 'columns'} as the Householder matrix a has "
                         f"rows. Got a shape {a.shape} and c shape {c.shape}.")
    if not (a.dtype == taus.dtype == c.dtype) or taus.shape[:-1] != a.shape[:-2] \
            or c.shape[:-2] != a.shape[:-2] or taus.shape[-1] > min(a.shape[-2:]):
        raise ValueError(f"ormqr: a [..., m, n], taus [..., k] (k <= min(m, n)) and c need one "
                         f"dtype and a's batch axes, got {a.dtype}{list(a.shape)}, "
                         f"{taus.dtype}{list(taus.shape)} and {c.dtype}{list(c.shape)}")
    return c.strip_weak()


def _ormqr_impl(a, taus, c, *, left, transpose):
    routine = "unmqr" if dtypes.is_complex(core.get_aval(a).dtype) else "ormqr"
    out, = lapack_call(a, taus, c, routine=routine, left=left, transpose=transpose,
                       out_avals=(core.get_aval(c),))
    return out


ormqr_p = _declare("ormqr", _ormqr_aval, _ormqr_impl)


def ormqr(a, taus, c, *, left: bool = True, transpose: bool = False):
    """Q c (left) or c Q, with Q^H instead of Q under transpose, for the Q whose Householder
    reflectors a [..., m, n] holds below its diagonal with scale factors taus [..., k]."""
    return ormqr_p.bind(a, taus, c, left=bool(left), transpose=bool(transpose))


# ---------------------------------------------------------------- cholesky_update
def _cholesky_update_aval(r, w):
    check_matrix("cholesky_update", r, square=True)
    if r.dtype not in _FLOATS or w.dtype != r.dtype or w.shape != r.shape[:-1]:
        raise TypeError(f"cholesky_update: r_matrix [..., n, n] and w_vector [..., n] must be "
                        f"float32 or float64 of one dtype, got {r.dtype}{list(r.shape)} and "
                        f"{w.dtype}{list(w.shape)}")
    return r.strip_weak()


def _givens(x, y):
    """(c, s) rotating (x, y) onto (r, 0), scaled by max(|x|, |y|) against overflow."""
    scale = ew.max(abs_p.bind(x), abs_p.bind(y))
    zero = ew.eq(y, full_like(y, 0))
    scale = ew.select(zero, full_like(scale, 1), scale)
    x, y = ew.div(x, scale), ew.div(y, scale)
    inverse = ew.rsqrt(ew.add(ew.mul(x, x), ew.mul(y, y)))
    return (ew.select(zero, full_like(x, 1), ew.mul(x, inverse)),
            ew.select(zero, full_like(y, 0), ew.neg(ew.mul(y, inverse))))


def _cholesky_update_impl(r, w):
    nd = len(core.get_aval(r).shape)

    def step(k, carry):
        r, w = carry
        row = dynamic_index_in_dim(r, k, nd - 2, keepdims=False)
        c, s = _givens(dynamic_index_in_dim(row, k, nd - 2, keepdims=False),
                       dynamic_index_in_dim(w, k, nd - 2, keepdims=False))
        c, s = (broadcast_in_dim(v, core.get_aval(w).shape, tuple(range(nd - 2))) for v in (c, s))
        new_row = ew.sub(ew.mul(c, row), ew.mul(s, w))
        w = ew.add(ew.mul(c, w), ew.mul(s, row))
        return dynamic_update_index_in_dim(r, new_row, k, nd - 2), w
    return fori_loop(0, core.get_aval(r).shape[-1], step, (r, w))[0]


cholesky_update_p = _declare("cholesky_update", _cholesky_update_aval, _cholesky_update_impl)


def cholesky_update(r_matrix, w_vector):
    """The upper Cholesky factor of A + w w^T, given A's upper factor R (A = R^T R), in O(n^2)."""
    return cholesky_update_p.bind(r_matrix, w_vector)
