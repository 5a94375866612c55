"""JAX's scalar types (`jnp.float32`, `jnp.int8`, ...): each is a dtype wherever a dtype is
accepted (`np.dtype(jnp.float32)`, `zeros(3, jnp.float32)`, `x.astype(jnp.int8)`,
`issubdtype`, dictionary keys equal to NumPy's types), and calling one makes a 0-d (or n-d)
spmd Array of that dtype, as in JAX: `jnp.int32(5) + 2.5` is then a float32, not NumPy's
float64."""
import ml_dtypes
import numpy as np

from spmd.numpy._core import asarray_value


__all__ = ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128", "bfloat16", "int1", "int2",
           "int4", "uint1", "uint2", "uint4", "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn",
           "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz",
           "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "single", "double", "csingle",
           "cdouble", "int_", "uint", "float_", "complex_"]  # and `bool`, imported by name


class _ScalarMeta(type):
    """The metaclass of the scalar types: the class behaves as its NumPy scalar type in dtype
    questions, and calling it converts to an Array."""
    dtype: np.dtype

    @property
    def __numpy_dtype__(cls) -> np.dtype:  # NumPy >= 2.4 asks this before `.dtype`
        return cls.dtype

    def __hash__(cls):
        return hash(cls.dtype.type)  # a key equal to NumPy's type finds the same entry

    def __eq__(cls, other):
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other):
        return not cls == other

    def __call__(cls, x):
        return asarray_value(x, cls.dtype)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls.dtype.type)


def _scalar_type(numpy_type) -> _ScalarMeta:
    name = numpy_type.__name__
    return _ScalarMeta(name, (object,), {
        "dtype": np.dtype(numpy_type), "__module__": "spmd.numpy",
        "__doc__": f"The {name} dtype; `{name}(x)` makes an spmd Array of it (JAX represents "
                   "scalars as 0-d arrays)."})


bool_ = _scalar_type(np.bool_)
int8, int16, int32, int64 = map(_scalar_type, (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = map(_scalar_type, (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = map(_scalar_type, (np.float16, np.float32, np.float64))
complex64, complex128 = map(_scalar_type, (np.complex64, np.complex128))
bfloat16 = _scalar_type(ml_dtypes.bfloat16)
# ml_dtypes' narrow types: dtypes here, but spmd's backend stores none of them yet (calling one
# raises the backend's unsupported-dtype error)
int1, int2, int4 = map(_scalar_type, (ml_dtypes.int1, ml_dtypes.int2, ml_dtypes.int4))
uint1, uint2, uint4 = map(_scalar_type, (ml_dtypes.uint1, ml_dtypes.uint2, ml_dtypes.uint4))
(float4_e2m1fn, float6_e2m3fn, float6_e3m2fn, float8_e3m4, float8_e4m3, float8_e4m3b11fnuz,
 float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu) = (
    _scalar_type(getattr(ml_dtypes, name)) for name in (
        "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e3m4", "float8_e4m3",
        "float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
        "float8_e5m2fnuz", "float8_e8m0fnu"))

# NumPy's and the array API's other names for them
bool = bool_  # noqa: A001
single, double, csingle, cdouble = float32, float64, complex64, complex128
int_, uint, float_, complex_ = int64, uint64, float64, complex128
