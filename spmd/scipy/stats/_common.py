"""What every distribution module shares: its arguments promoted to one inexact dtype, and the
standardized variable (x - loc) / scale."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact


def promote(name, *args):
    """The arguments as arrays of one inexact dtype (ints become the default float)."""
    return promote_to_inexact(name, *args)


def standardize(x, loc, scale):
    return jnp.divide(jnp.subtract(x, loc), scale)


def outside(x, low, high):
    """x < low or x > high, elementwise."""
    return jnp.logical_or(jnp.less(x, low), jnp.greater(x, high))


def log1mexp(x):
    """log(1 - e^(-x)) for x > 0, accurate at both ends (Maechler's switch at log 2)."""
    return jnp.where(jnp.less(x, np.log(2)), jnp.log(jnp.negative(jnp.expm1(jnp.negative(x)))),
                     jnp.log1p(jnp.negative(jnp.exp(jnp.negative(x)))))


def nan_outside_unit(q, value):
    """value, NaN where the probability q is NaN or outside [0, 1] (the ppfs' convention)."""
    bad = jnp.logical_or(jnp.isnan(q), outside(q, 0, 1))
    return jnp.where(bad, np.nan, value)
