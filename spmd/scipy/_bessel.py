"""The modified Bessel functions of the first kind of orders 0 and 1, plain (i0, i1) and
exponentially scaled (i0e, i1e), from lax's scaled primitives: I_n(x) = exp(|x|) I_ne(x)."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.numpy._core import promote_to_inexact
from spmd.transforms import lax


def i0e(x):
    """exp(-|x|) I_0(x)."""
    (x,) = promote_to_inexact("i0e", x)
    return lax.bessel_i0e(x)


def i1e(x):
    """exp(-|x|) I_1(x)."""
    (x,) = promote_to_inexact("i1e", x)
    return lax.bessel_i1e(x)


def i0(x):
    """I_0(x), the modified Bessel function of the first kind of order 0."""
    (x,) = promote_to_inexact("i0", x)
    return jnp.multiply(jnp.exp(jnp.abs(x)), lax.bessel_i0e(x))


def i1(x):
    """I_1(x), the modified Bessel function of the first kind of order 1."""
    (x,) = promote_to_inexact("i1", x)
    return jnp.multiply(jnp.exp(jnp.abs(x)), lax.bessel_i1e(x))
