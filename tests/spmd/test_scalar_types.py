"""jnp's scalar types are dtypes everywhere a dtype goes and, called, make Arrays (as in JAX);
Arrays format as their scalar."""
import ml_dtypes
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp

STORED = {"bool_": np.bool_, "int8": np.int8, "int16": np.int16, "int32": np.int32,
          "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "float16": np.float16,
          "float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "complex64": np.complex64}
WIDE = {"int64": np.int64, "uint64": np.uint64, "float64": np.float64,
        "complex128": np.complex128}
NARROW = {name: getattr(ml_dtypes, name) for name in (
    "int1", "int2", "int4", "uint1", "uint2", "uint4", "float4_e2m1fn", "float6_e2m3fn",
    "float6_e3m2fn", "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn",
    "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu")}
ALL = STORED | WIDE | NARROW


@pytest.mark.parametrize("name", sorted(ALL))
def test_scalar_type_is_its_dtype_wherever_a_dtype_goes(name):
    scalar_type, numpy_type = getattr(jnp, name), ALL[name]
    assert np.dtype(scalar_type) == np.dtype(numpy_type)
    assert scalar_type == numpy_type and numpy_type == scalar_type
    assert scalar_type.dtype == numpy_type and scalar_type != np.void
    assert {numpy_type: "found"}[scalar_type] == "found"  # hashes as NumPy's type
    assert np.zeros(2, scalar_type).dtype == numpy_type
    assert isinstance(np.zeros((), numpy_type)[()], scalar_type)
    assert not isinstance(1.5, scalar_type) or numpy_type is np.float64
    assert scalar_type.__module__ == "spmd.numpy"
    assert getattr(jnp, scalar_type.__name__) is scalar_type  # bool_ is named bool, as NumPy's


@pytest.mark.parametrize("name", sorted(STORED))
def test_calling_a_scalar_type_makes_an_array_of_that_dtype(name):
    scalar_type, numpy_type = getattr(jnp, name), STORED[name]
    out = scalar_type(1)
    assert isinstance(out, spmd.Array) and out.shape == () and out.dtype == numpy_type
    assert not spmd.dtypes.is_weakly_typed(out) and out.item() == 1
    array = scalar_type([[0, 1], [1, 0]])
    np.testing.assert_array_equal(np.asarray(array), np.array([[0, 1], [1, 0]], numpy_type))
    assert jnp.zeros(3, scalar_type).dtype == numpy_type
    assert jnp.ones(2, np.float32).astype(scalar_type).dtype == numpy_type
    assert jnp.result_type(scalar_type, np.bool_) == numpy_type


def test_scalar_types_promote_as_jax_does():
    out = jnp.int32(5) + 2.5  # NumPy's int32 scalar would give float64
    assert out.dtype == np.float32 and spmd.dtypes.is_weakly_typed(out) and out.item() == 7.5
    assert (jnp.float16(1) * 3).dtype == np.float16
    assert (jnp.uint8(200) + jnp.int8(1)).dtype == np.int16
    assert jnp.bfloat16(2.5).item() == 2.5


@pytest.mark.parametrize("name", sorted(WIDE))
def test_wide_scalar_types_narrow_without_x64_and_keep_their_width_with_it(name, request):
    narrow = {"int64": np.int32, "uint64": np.uint32, "float64": np.float32,
              "complex128": np.complex64}[name]
    assert getattr(jnp, name)(3).dtype == narrow
    request.getfixturevalue("x64")
    assert getattr(jnp, name)(3).dtype == WIDE[name]


def test_scalar_types_work_under_jit_and_grad():
    assert float(spmd.jit(lambda v: jnp.float32(v) * 2)(3)) == 6.0
    assert float(spmd.grad(lambda v: jnp.float32(v) ** 2)(3.0)) == 6.0
    assert spmd.vmap(jnp.int8)(np.arange(3.0)).dtype == np.int8


def test_issubdtype_places_the_narrow_types_as_jax_does():
    assert jnp.issubdtype(jnp.float8_e4m3fn, jnp.floating)
    assert jnp.issubdtype(jnp.float8_e5m2, jnp.inexact)
    assert jnp.issubdtype(jnp.int4, jnp.signedinteger)
    assert jnp.issubdtype(jnp.uint4, jnp.unsignedinteger) and jnp.issubdtype(jnp.uint4, jnp.integer)
    assert not jnp.issubdtype(jnp.int4, jnp.floating)
    assert not jnp.issubdtype(jnp.float8_e5m2, jnp.float8_e4m3fn)
    assert jnp.issubdtype(jnp.float32, jnp.floating) and jnp.issubdtype(jnp.float32, np.float32)
    assert jnp.finfo(jnp.float8_e5m2).eps == ml_dtypes.finfo(ml_dtypes.float8_e5m2).eps
    assert jnp.iinfo(jnp.int16).max == 32767


def test_aliases_are_the_same_types():
    assert jnp.bool is jnp.bool_ and jnp.single is jnp.float32 and jnp.double is jnp.float64
    assert jnp.csingle is jnp.complex64 and jnp.cdouble is jnp.complex128
    assert jnp.int_ is jnp.int64 and jnp.uint is jnp.uint64 and jnp.float_ is jnp.float64


def test_scalar_type_misuses_raise():
    with pytest.raises(TypeError, match="not supported by spmd's XLA backend"):
        jnp.float8_e4m3fn(1.0)
    with pytest.raises(TypeError, match=r"got _ScalarMeta: <class 'spmd.numpy.float32'>"):
        jnp.add(jnp.float32, 1)  # a dtype, not a value (JAX raises a TypeError too)


def test_array_format_spec_formats_a_scalar_and_rejects_one_for_arrays():
    loss = jnp.float32(1.23456)
    assert f"{loss:.3f}" == "1.235" and f"{jnp.int32(7):03d}" == "007"
    assert f"{jnp.arange(3)}" == str(np.arange(3))
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{jnp.arange(3):.2f}"  # as NumPy (and JAX) do for arrays
