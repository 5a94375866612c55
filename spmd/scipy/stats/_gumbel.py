"""What gumbel_r and gumbel_l share: a scale <= 0 makes every value NaN."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.scipy.stats._common import promote, standardize


def standardized(name, x, loc, scale):
    """(z, ok): the standardized variable and where the scale is valid."""
    x, loc, scale = promote(name, x, loc, scale)
    return standardize(x, loc, scale), jnp.greater(scale, 0), scale


def valid(ok, value):
    return jnp.where(ok, value, np.nan)


def quantile_ok(name, p, loc, scale):
    p, loc, scale = promote(name, p, loc, scale)
    return p, loc, scale, jnp.logical_and(jnp.greater(p, 0), jnp.less(p, 1))
