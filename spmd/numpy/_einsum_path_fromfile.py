"""jax.numpy.einsum_path (the contraction order einsum would use, from the operands' shapes
alone) and fromfile (deliberately unimplemented, as in JAX)."""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import shape_of


def einsum_path(subscripts, *operands, optimize="auto"):
    """(contraction path, printable report) for einsum(subscripts, *operands): NumPy's path
    search run on zero-strided stand-ins of the operands' shapes ("auto" and True mean
    "greedy"; "optimal" or an explicit path list are passed on)."""
    if optimize in ("auto", True):
        optimize = "greedy"
    stand_ins = [np.broadcast_to(np.zeros((), np.float32), shape_of(np.asarray(op)
                                                                    if isinstance(op, list)
                                                                    else op))
                 for op in operands]
    return np.einsum_path(subscripts, *stand_ins, optimize=optimize)


def fromfile(*args, **kwargs):
    raise NotImplementedError(
        "jnp.fromfile() is not implemented because it may be non-pure and thus unsafe for use "
        "with JIT and other JAX transformations. Consider using jnp.asarray(np.fromfile(...)) "
        "instead, although care should be taken if np.fromfile is used within a jax "
        "transformations because of its potential side-effect of consuming the file object; "
        "for more information see "
        "https://docs.jax.dev/en/latest/notebooks/Common_Gotchas_in_JAX.html#pure-functions")
