"""bessel_jn(z, v=...): the Bessel functions of the first kind J_0 ... J_v at real z, by
Miller's backward recurrence J_k = 2 (k + 1) / z J_(k+1) - J_(k+2) from a tiny seed at order
n_iter, normalized by J_0 + 2 (J_2 + J_4 + ...) = 1 (Zhang and Jin, Computation of Special
Functions, sec. 5.2), as JAX computes them."""
from __future__ import annotations

import operator

import spmd.numpy as jnp
from spmd.scipy._gamma_family import _real
from spmd.transforms import lax


def _static_int(name, value):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"bessel_jn's {name} must be a static Python integer; got "
                        f"{value!r}") from None


def bessel_jn(z, *, v, n_iter=50):
    """J_0(z) ... J_v(z), stacked on a new leading axis of length v + 1. n_iter (the order the
    recurrence starts from) must exceed v and |z| by a margin for full accuracy."""
    v, n_iter = _static_int("v", v), _static_int("n_iter", n_iter)
    if v < 0 or n_iter < v:
        raise ValueError(f"bessel_jn needs 0 <= v <= n_iter; got v={v}, n_iter={n_iter}")
    (z,) = _real("bessel_jn", z)
    zero = jnp.equal(z, 0)
    safe_z = jnp.where(zero, 1, z)

    def step(carry, k):
        f2, f1, even_sum = carry  # J_(k+2), J_(k+1) unnormalized; f0 + 2 * (f2 + f4 + ...)
        f = jnp.subtract(jnp.divide(jnp.multiply(f1, jnp.multiply(jnp.add(k, 1), 2)), safe_z),
                         f2)
        weight = jnp.where(jnp.equal(jnp.remainder(k, 2), 0), jnp.where(jnp.equal(k, 0), 1, 2), 0)
        return (f1, f, jnp.add(even_sum, jnp.multiply(weight, f))), f
    orders = jnp.arange(n_iter, -1, -1, dtype=z.dtype)
    start = (jnp.zeros_like(z), jnp.full_like(z, 1e-16), jnp.zeros_like(z))
    (_, _, norm), values = lax.scan(step, start, orders)
    values = jnp.divide(values[::-1][:v + 1], norm)
    at_zero = jnp.expand_dims(jnp.arange(v + 1) == 0, tuple(range(1, z.ndim + 1)))
    return jnp.where(zero, at_zero.astype(z.dtype), values)
