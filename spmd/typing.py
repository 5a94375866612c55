"""`spmd.typing`, as `jax.typing`: the annotations a JAX function takes its inputs by.
`ArrayLike` is what spmd.numpy functions accept (an Array, a traced value, a NumPy array or
scalar, a Python scalar), usable with isinstance; `DTypeLike` is what names a dtype."""
from __future__ import annotations

from typing import Any, Protocol, Union

import numpy as np

from spmd.array_type import Array
from spmd.missing_names import module_getattr as _module_getattr

__all__ = ["ArrayLike", "DTypeLike"]

ArrayLike = Union[Array, np.ndarray, np.bool_, np.number, bool, int, float, complex]


class SupportsDType(Protocol):
    @property
    def dtype(self) -> np.dtype: ...


DTypeLike = Union[str, type[Any], np.dtype, SupportsDType]  # 'float32', np.float32, jnp.float32

__getattr__ = _module_getattr("spmd.typing", "jax.typing")
