"""`spmd.dtypes`, as `jax.dtypes`: float0 (the tangent type of integer and boolean values),
bfloat16, and the dtype questions a ported program asks."""
import numpy as np

from spmd.missing_names import module_getattr as _module_getattr
from spmd.numpy import result_type  # noqa: F401  (the same promotion as spmd.numpy)
from spmd.transforms import core
from spmd.transforms.dtypes import bfloat16, canonicalize, finfo, float0, iinfo, issubdtype  # noqa: F401


def canonicalize_dtype(dtype) -> np.dtype:
    """The dtype spmd stores for `dtype`: 64-bit types narrow to 32-bit unless x64 is enabled."""
    return canonicalize(dtype)


def is_weakly_typed(x) -> bool:
    """True for Python scalars and values computed only from them (they adopt the other
    operand's dtype in arithmetic)."""
    return core.get_aval(x).weak_type


__getattr__ = _module_getattr("spmd.dtypes", "jax.dtypes")
