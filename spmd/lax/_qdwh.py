"""jax.lax.linalg.qdwh: the polar decomposition x = u h by the QR-based dynamically weighted
Halley iteration (Nakatsukasa, Bai and Gygi, SIAM J. Matrix Anal. Appl. 31(5), 2010).

The weights of every step depend only on eps (the lower bound l of the scaled matrix's smallest
singular value starts at eps and follows a closed recurrence), so they are worked out on the
host before tracing: the early steps, whose weight c is large, go through a QR decomposition of
[sqrt(c) u; I] (stable when c u^H u + I is ill conditioned), the later ones through a Cholesky
factor of c u^H u + I, and plain Halley steps (a, b, c) = (3, 1, 3) follow until u stops moving.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

import spmd.numpy as jnp
from spmd.numpy import linalg as np_linalg
from spmd.transforms.jit import jit
from spmd.transforms.lax import linalg as lax_linalg
from spmd.transforms.lax.control_flow import fori_loop, while_loop

_QR_ABOVE = 100  # c beyond which a step takes the QR form


def _weights(eps: float, max_iterations: int):
    """(a, b, c) of each dynamically weighted step, while l + 5 eps < 1."""
    steps, low, tol = [], eps, 10 * eps / 2
    while low + tol < 1 and len(steps) < max_iterations:
        l2 = low * low
        dd = (4 * (1 / l2 - 1) / l2) ** (1 / 3)
        sqd = math.sqrt(1 + dd)
        a = sqd + math.sqrt(2 - dd + 2 * (2 - l2) / (l2 * sqd))
        b = (a - 1) ** 2 / 4
        c = a + b - 1
        low = low * (a + b * l2) / (1 + c * l2)
        steps.append((a, b, c))
    return steps


def _mH(x):
    return jnp.conjugate(x.T)


def _qr_step(u, a, b, c):
    """e u + ((a - e) / sqrt(c)) Q1 Q2^H with [sqrt(c) u; I] = [Q1; Q2] R and e = b / c."""
    n = u.shape[1]
    q, _ = lax_linalg.qr(jnp.concatenate([jnp.sqrt(c) * u, jnp.eye(n, dtype=u.dtype)]),
                         full_matrices=False)
    q1, q2 = q[:u.shape[0]], q[u.shape[0]:]
    return (b / c) * u + ((a - b / c) / jnp.sqrt(c)) * (q1 @ _mH(q2))


def _cholesky_step(u, a, b, c):
    """e u + (a - e) u (c u^H u + I)^-1 with e = b / c, through the Cholesky factor L L^H."""
    n = u.shape[1]
    factor = lax_linalg.cholesky(c * (_mH(u) @ u) + jnp.eye(n, dtype=u.dtype),
                                 symmetrize_input=False)
    # z = u L^-H L^-1, as two solves on z^H = L^-H (L^-1 u^H)
    y = lax_linalg.triangular_solve(factor, _mH(u), left_side=True, lower=True)
    z = lax_linalg.triangular_solve(factor, y, left_side=True, lower=True, transpose_a=True,
                                    conjugate_a=True)
    return (b / c) * u + (a - b / c) * _mH(z)


def _steps(update, weights, u, tol_norm):
    """u after one step per row (a, b, c) of weights (one loop: one traced step), and whether
    the last step still moved u by more than tol_norm."""
    if not weights:
        return u, jnp.array(True)
    table = jnp.array(weights, dtype=u.real.dtype)

    def step(i, state):
        u, _ = state
        new = update(u, *(table[i, j].astype(u.dtype) for j in range(3)))
        return new, np_linalg.norm(new - u) > tol_norm
    return fori_loop(0, len(weights), step, (u, jnp.array(True)))


@partial(jit, static_argnames=("max_iterations", "eps"))
def _qdwh(x, *, max_iterations, eps):
    one, inf = np_linalg.norm(x, ord=1), np_linalg.norm(x, ord=np.inf)
    scale = jnp.where(one == 0, 1, 1 / jnp.sqrt(one * inf))  # 1 / alpha, alpha >= ||x||_2
    u = x * scale.astype(x.dtype)
    tol_norm = (10 * eps / 2) ** (1 / 3)
    weights = _weights(eps, max_iterations)
    u, _ = _steps(_qr_step, [w for w in weights if w[2] > _QR_ABOVE], u, tol_norm)
    # whether u still moves is judged on the Cholesky steps only
    u, moving = _steps(_cholesky_step, [w for w in weights if w[2] <= _QR_ABOVE], u, tol_norm)

    def halley(state):
        k, u, _ = state
        new = _cholesky_step(u, 3.0, 1.0, 3.0)
        return k + 1, new, np_linalg.norm(new - u) > tol_norm
    iterations, u, moving = while_loop(lambda s: s[2] & (s[0] < max_iterations), halley,
                                       (jnp.int32(len(weights)), u, moving))
    u = 1.5 * u - 0.5 * u @ (_mH(u) @ u)  # a Newton-Schulz step for the last digits
    h = _mH(u) @ x
    return u, (h + _mH(h)) / 2, iterations, ~moving


def qdwh(x, *, is_hermitian: bool = False, max_iterations: int | None = None,
         eps: float | None = None, dynamic_shape: tuple[int, int] | None = None):
    """(u, h, num_iters, is_converged): x = u h for a full-rank x [M, N] with M >= N, u with
    orthonormal columns and h Hermitian positive semidefinite. With dynamic_shape (m, n), only
    x[:m, :n] counts and the rest of u and h is zero. is_hermitian is unused, as in JAX."""
    x = jnp.asarray(x)
    if x.ndim != 2 or not jnp.issubdtype(x.dtype, np.inexact):
        raise TypeError(f"qdwh: x must be a floating or complex matrix [M, N], got "
                        f"{x.dtype} of shape {x.shape}")
    rows, cols = x.shape
    if rows < cols:
        raise ValueError("The input matrix of shape M x N must have M >= N.")
    if eps is None:
        eps = float(jnp.finfo(x.dtype).eps)
    max_iterations = 10 if max_iterations is None else int(max_iterations)
    if dynamic_shape is None:
        return _qdwh(x, max_iterations=max_iterations, eps=float(eps))
    m, n = (int(d) for d in dynamic_shape)  # the true shape must be known: it sizes u and h
    u, h, iterations, converged = _qdwh(x[:m, :n], max_iterations=max_iterations,
                                        eps=float(eps))
    return (jnp.pad(u, [(0, rows - m), (0, cols - n)]), jnp.pad(h, [(0, cols - n)] * 2),
            iterations, converged)
