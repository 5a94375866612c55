"""`spmd.Array`, the type a JAX program checks values against (`isinstance(x, jax.Array)`):
as in JAX, an abstract type that device arrays, typed PRNG key arrays and the traced values
inside jit, grad, vmap and pmap all are, so the same check holds inside and outside a
transform. The concrete device array is `spmd.transforms.array.Array`; nothing is created
from this type."""
from __future__ import annotations

import abc

from spmd.random.keys import PRNGKeyArray
from spmd.transforms.array import Array as DeviceArray
from spmd.transforms.core import Tracer


class Array(abc.ABC):  # noqa: B024  (a type to check against, with no methods of its own)
    """An array of spmd (JAX's jax.Array): for isinstance checks and annotations."""
    __slots__ = ()


for _kind in (DeviceArray, PRNGKeyArray, Tracer):
    Array.register(_kind)
