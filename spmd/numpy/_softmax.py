"""softmax, below both spmd.scipy.special (which exports it, as jax.scipy.special.softmax) and
spmd.random (whose dirichlet normalizes gamma draws with it), so neither imports the other."""
from __future__ import annotations

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import promote_to_inexact
from spmd.numpy._reductions import max as _max, sum as _sum
from spmd.transforms.stop_gradient import stop_gradient


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) along `axis`; the maximum is subtracted first as a constant, which
    keeps exp from overflowing and leaves the value and the derivative unchanged."""
    (x,) = promote_to_inexact("softmax", x)
    shifted = uf.subtract(x, stop_gradient(_max(x, axis=axis, keepdims=True)))
    unnormalized = uf.exp(shifted)
    return uf.divide(unnormalized, _sum(unnormalized, axis=axis, keepdims=True))
