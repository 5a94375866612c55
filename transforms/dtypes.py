"""Dtypes: canonicalization (64-bit off unless enable_x64), JAX's type promotion lattice with
weak-typed Python scalars, and float0 for the tangents of integer values."""
import functools

import ml_dtypes
import numpy as np

from spmd.transforms.config import config

bfloat16 = np.dtype(ml_dtypes.bfloat16)
float0 = np.dtype([("float0", np.void, 0)])  # the tangent type of ints and bools, as in JAX

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SUPPORTED = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
             bfloat16, float16, float32, float64, complex64, complex128)
_NARROW = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}


def canonicalize(dtype) -> np.dtype:
    """The dtype the backend really stores: 64-bit types narrow to 32-bit without enable_x64."""
    dtype = np.dtype(dtype)
    if dtype not in SUPPORTED and dtype != float0:
        raise TypeError(f"dtype {dtype} is not supported by spmd's XLA backend; "
                        f"supported dtypes: {', '.join(str(d) for d in SUPPORTED)}")
    if not config.enable_x64:
        return _NARROW.get(dtype, dtype)
    return dtype


def default_int():
    return canonicalize(int64)


def default_float():
    return canonicalize(float64)


def default_complex():
    return canonicalize(complex128)


def is_float(dtype) -> bool:
    return np.issubdtype(dtype, np.floating) or dtype == bfloat16


def is_complex(dtype) -> bool:
    return np.issubdtype(dtype, np.complexfloating)


def is_inexact(dtype) -> bool:
    return is_float(dtype) or is_complex(dtype)


def is_integer(dtype) -> bool:
    return np.issubdtype(dtype, np.integer)


def is_unsigned(dtype) -> bool:
    return np.issubdtype(dtype, np.unsignedinteger)


# ml_dtypes' types, which NumPy files under np.void, and the kind JAX places each under
_ML_KINDS = {np.dtype(getattr(ml_dtypes, name)): kind for names, kind in [
    (("bfloat16", "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e3m4", "float8_e4m3",
      "float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
      "float8_e8m0fnu"), np.floating),
    (("int1", "int2", "int4"), np.signedinteger),
    (("uint1", "uint2", "uint4"), np.unsignedinteger)] for name in names}


def _ml_kind(dtype):
    try:
        return _ML_KINDS.get(np.dtype(dtype))
    except TypeError:  # an abstract category (np.floating...), not a dtype
        return None


class extended(np.generic):
    """The scalar kind of dtypes NumPy does not have (typed PRNG keys' `key<fry>`): for
    `issubdtype(key.dtype, dtypes.extended)`; never instantiated."""


class prng_key(extended):
    """The scalar kind of typed PRNG keys' dtypes, for `issubdtype(key.dtype, prng_key)`."""


def issubdtype(dtype, category) -> bool:
    """np.issubdtype that also places ml_dtypes' types (bfloat16, the float8s, int4...) among
    the floating or integer kinds, as JAX does, and extended dtypes (a typed key's) under
    their kind."""
    kind = getattr(dtype, "type", None)
    if not isinstance(dtype, np.dtype) and isinstance(kind, type) and issubclass(kind, extended):
        return issubclass(kind, category) if isinstance(category, type) else dtype == category
    kind = _ml_kind(dtype)
    if kind is None:
        return bool(np.issubdtype(dtype, category))
    if isinstance(category, type) and issubclass(category, np.generic) \
            and _ml_kind(category) is None:
        return issubclass(kind, category)  # an abstract kind (np.floating, np.number...)
    return np.dtype(category) == np.dtype(dtype)


def finfo(dtype):
    return ml_dtypes.finfo(dtype) if _ml_kind(dtype) is np.floating else np.finfo(dtype)


def iinfo(dtype):
    return np.iinfo(dtype)


# --- promotion: JAX's lattice, where the weak Python scalar kinds sit below the typed ones ---
_I, _F, _C = "int*", "float*", "complex*"  # weak kinds
_EDGES = {
    bool_: [_I], _I: [uint8, int8], uint8: [int16, uint16], uint16: [int32, uint32],
    uint32: [int64, uint64], uint64: [_F], int8: [int16], int16: [int32], int32: [int64],
    int64: [_F], _F: [float16, bfloat16, _C], float16: [float32], bfloat16: [float32],
    float32: [float64, complex64], float64: [complex128], _C: [complex64],
    complex64: [complex128], complex128: [],
}


# jax_numpy_dtype_promotion="strict": only a weak Python scalar adopts a typed operand's dtype
# (of its kind or above); two different typed dtypes have no common type
_STRICT_EDGES = {
    _I: [_F, int8, int16, int32, int64, uint8, uint16, uint32, uint64],
    _F: [_C, bfloat16, float16, float32, float64], _C: [complex64, complex128],
    **{dtype: [] for dtype in SUPPORTED},
}


class TypePromotionError(ValueError):
    """Raised when JAX's type promotion finds no common dtype (jax.dtypes.TypePromotionError)."""


@functools.cache
def _upper_bounds(node, strict: bool = False):
    out = {node}
    for succ in (_STRICT_EDGES if strict else _EDGES)[node]:
        out |= _upper_bounds(succ, strict)
    return frozenset(out)


@functools.lru_cache(maxsize=1024)
def _join(nodes: tuple, strict: bool = False):
    common = frozenset.intersection(*(_upper_bounds(n, strict) for n in nodes))
    for candidate in common:
        if _upper_bounds(candidate, strict) >= common:
            return candidate
    # only the strict lattice has no common bound (complex128 is above all on the standard one)
    names = tuple(_WEAK_NAMES.get(n, str(n)) for n in nodes)
    raise TypePromotionError(
        f"Input dtypes {names} have no available implicit dtype promotion path when "
        "jax_numpy_dtype_promotion=strict. Try explicitly casting inputs to the desired output "
        "type, or set jax_numpy_dtype_promotion=standard.")


_WEAK_NAMES = {_I: str(int), _F: str(float), _C: str(complex)}  # JAX names them by Python type


def _strict() -> bool:
    return config.values["numpy_dtype_promotion"] == "strict"  # (read at every promotion)


def _node(dtype, weak):
    if not weak:
        return np.dtype(dtype)
    if dtype == bool_:
        return bool_
    return _I if is_integer(dtype) else _F if is_float(dtype) else _C


def result_type(*typed):
    """Promote (dtype, weak) pairs; returns (dtype, weak) with the weak kinds made concrete."""
    node = _join(tuple(_node(np.dtype(d), w) for d, w in typed), _strict())
    weak = node in (_I, _F, _C)
    dtype = {_I: default_int(), _F: default_float(), _C: default_complex()}.get(node, node)
    return canonicalize(dtype), weak


def promote_types(a, b) -> np.dtype:
    """The dtype two (strongly typed) dtypes promote to on JAX's lattice, not narrowed by
    canonicalization (jnp.promote_types)."""
    return np.dtype(_join((np.dtype(a), np.dtype(b)), _strict()))


def python_scalar_dtype(value):
    """dtype and weak flag of a Python scalar, as JAX types it."""
    if isinstance(value, (bool, np.bool_)):
        return bool_, False
    if isinstance(value, int):
        return default_int(), True
    if isinstance(value, float):
        return default_float(), True
    if isinstance(value, complex):
        return default_complex(), True
    raise TypeError(f"not a Python scalar: {value!r}")

