"""What every distribution module shares: its arguments promoted to one inexact dtype, and the
standardized variable (x - loc) / scale."""
from __future__ import annotations

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
