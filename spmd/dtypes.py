"""`spmd.dtypes`, as `jax.dtypes`: float0 (the tangent type of integer and boolean values),
bfloat16, the kinds `extended` and `prng_key` (typed keys' dtypes are of kind prng_key),
TypePromotionError (jax_numpy_dtype_promotion="strict"), and the dtype questions a ported
program asks."""
import numpy as np

from spmd.missing_names import module_getattr as _module_getattr
from spmd.numpy import result_type  # noqa: F401  (the same promotion as spmd.numpy)
from spmd.transforms import core
from spmd.transforms.dtypes import (TypePromotionError, bfloat16, canonicalize,  # noqa: F401
                                    extended, finfo, float0, iinfo, issubdtype, prng_key)


def canonicalize_dtype(dtype) -> np.dtype:
    """The dtype spmd stores for `dtype`: 64-bit types narrow to 32-bit unless x64 is enabled."""
    return canonicalize(dtype)


def itemsize_bits(dtype) -> int:
    """Bits per element of `dtype` (a bool takes 8, as stored; a complex both its parts)."""
    if dtype is None:
        raise ValueError("dtype cannot be None.")
    if np.dtype(dtype) == np.dtype(bool):
        return 8
    if issubdtype(dtype, np.integer):
        return iinfo(dtype).bits
    if issubdtype(dtype, np.floating):
        return finfo(dtype).bits
    if issubdtype(dtype, np.complexfloating):
        return 2 * finfo(dtype).bits
    raise ValueError(f"unexpected input: {dtype=}")


def scalar_type_of(x) -> type:
    """The Python scalar type of a value's kind: bool, int, float or complex."""
    dtype = core.get_aval(x).dtype
    for kind, scalar in ((np.bool_, bool), (np.integer, int), (np.floating, float),
                         (np.complexfloating, complex)):
        if issubdtype(dtype, kind):
            return scalar
    raise TypeError(f"Invalid scalar value {x}")


def is_weakly_typed(x) -> bool:
    """True for Python scalars and values computed only from them (they adopt the other
    operand's dtype in arithmetic)."""
    return core.get_aval(x).weak_type


__getattr__ = _module_getattr("spmd.dtypes", "jax.dtypes")
