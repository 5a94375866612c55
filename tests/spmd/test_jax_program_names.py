"""The jax names of issue 13 that programs reach for beside grad/jit/vmap: custom_gradient,
closure_convert, linear_transpose, named_call, typeof, enable_x64, the process names,
print_environment_info, spmd.errors, spmd.stages and lax's primitive names. Checked against
closed forms, finite differences and NumPy."""
import numpy as np
import pytest

import spmd
import spmd.errors
import spmd.numpy as jnp
import spmd.stages
from spmd import lax


def test_custom_gradient_uses_the_returned_rule_under_grad_jit_and_vmap():
    @spmd.custom_gradient
    def clipped_square(x):
        return x ** 2, lambda g: (g * jnp.clip(2 * x, -1.0, 1.0),)
    assert clipped_square(3.0) == 9.0
    assert spmd.grad(clipped_square)(3.0) == 1.0 and spmd.grad(clipped_square)(0.25) == 0.5
    assert spmd.jit(spmd.grad(clipped_square))(-3.0) == -1.0
    np.testing.assert_allclose(spmd.vmap(spmd.grad(clipped_square))(np.array([0.1, 5.0])),
                               [0.2, 1.0], rtol=1e-6)


def test_custom_gradient_with_several_arguments_and_a_bare_cotangent():
    @spmd.custom_gradient
    def prod(x, y):
        return x * y, lambda g: (g * y, 10 * g * x)
    assert spmd.grad(prod, (0, 1))(2.0, 3.0) == (3.0, 20.0)

    @spmd.custom_gradient
    def one(x):
        return jnp.sin(x), lambda g: g * jnp.cos(x)  # one argument: a bare value
    np.testing.assert_allclose(spmd.grad(one)(0.5), np.cos(0.5), rtol=1e-6)


def test_closure_convert_hoists_closed_over_traced_floats():
    def loss(a):
        fn = lambda x: jnp.sin(a * x)  # noqa: E731
        converted, consts = spmd.closure_convert(fn, 1.0)
        assert len(consts) == 1  # `a`, a traced float
        return converted(0.5, *consts)
    np.testing.assert_allclose(spmd.grad(loss)(2.0), 0.5 * np.cos(1.0), rtol=1e-6)
    converted, consts = spmd.closure_convert(lambda x: x * 3, np.float32(2))
    assert consts == [] and converted(np.float32(2)) == 6
    with pytest.raises(TypeError, match="takes the 1 arguments then the 0 consts"):
        converted(1.0, 2.0)


def test_linear_transpose_is_the_adjoint():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    f_t = spmd.linear_transpose(lambda v: a @ v, spmd.ShapeDtypeStruct((3,), np.float32))
    (ct,) = f_t(np.array([1.0, -2.0], np.float32))
    np.testing.assert_allclose(ct, a.T @ np.array([1.0, -2.0]), rtol=1e-6)
    scalar = spmd.ShapeDtypeStruct((), np.float32)
    got = spmd.linear_transpose(lambda x, y: x / 2 - y, scalar, scalar)(np.float32(1))
    assert got == (0.5, -1.0)
    with pytest.raises(TypeError, match="cotangent tree does not match"):
        f_t((np.ones(2, np.float32),))
    with pytest.raises(TypeError, match="cotangent type does not match"):
        f_t(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"only supports \[float or complex\]"):
        spmd.linear_transpose(lambda x: x.astype(np.int32), scalar)


def test_named_call_names_the_operations_and_keeps_the_value():
    def layer(x):
        return jnp.tanh(x)
    named = spmd.named_call(layer, name="dense1")
    assert named.__name__ == "layer"
    np.testing.assert_allclose(named(0.5), np.tanh(0.5), rtol=1e-6)
    assert "dense1/tanh" in spmd.jit(named).lower(np.float32(0.5)).as_text(debug_info=True)


def test_typeof_enable_x64_and_the_process_names():
    assert spmd.typeof(np.zeros((2, 3), np.int8)) == spmd.transforms.core.ShapedArray(
        (2, 3), np.int8)
    assert spmd.typeof(1.0).weak_type
    # JAX's printed forms
    assert str(spmd.typeof(jnp.ones((3, 4)))) == "float32[3,4]"
    assert str(spmd.typeof(1.0)) == "~float32[]"
    assert repr(spmd.typeof(1.0)) == "ShapedArray(float32[], weak_type=True)"
    assert spmd.float0 == spmd.dtypes.float0
    assert spmd.enable_x64.value is False
    with spmd.enable_x64(True):
        assert spmd.enable_x64.value and jnp.ones(2, np.float64).dtype == np.float64
    assert jnp.ones(2, np.float64).dtype == np.float32 and not spmd.enable_x64.value
    assert spmd.default_backend() == spmd.devices()[0].platform == "cpu"
    assert spmd.host_count() == spmd.process_count() == 1
    assert spmd.host_id() == spmd.process_index() == 0
    assert spmd.host_ids() == spmd.process_indices() == [0]
    info = spmd.print_environment_info(return_string=True)
    assert "jaxlib:  0.10.2" in info and f"spmd:    {spmd.__version__}" in info


@pytest.mark.parametrize("call, error", [
    (lambda: spmd.jit(lambda x: 1 if x else 0)(1.0), spmd.errors.TracerBoolConversionError),
    (lambda: spmd.jit(lambda x: np.asarray(x))(1.0), spmd.errors.TracerArrayConversionError),
    (lambda: spmd.jit(lambda x: int(x))(1.0), spmd.errors.ConcretizationTypeError),
])
def test_tracing_errors_are_jaxs_classes(call, error):
    with pytest.raises(error, match="traced value") as info:
        call()
    assert isinstance(info.value, (TypeError, spmd.errors.JAXTypeError))


def test_a_leaked_tracer_raises_unexpected_tracer_error():
    leaked = []
    spmd.jit(lambda x: leaked.append(x) or x)(1.0)
    with pytest.raises(spmd.errors.UnexpectedTracerError, match="outside the transform"):
        jnp.sin(leaked[0])
    assert issubclass(spmd.errors.TracerBoolConversionError, spmd.errors.ConcretizationTypeError)


def test_stages_types_are_what_lower_and_compile_return():
    lowered = spmd.jit(jnp.sin).lower(np.float32(1))
    assert isinstance(lowered, spmd.stages.Lowered)
    assert isinstance(lowered.compile(), spmd.stages.Compiled)


def test_lax_primitive_names_are_the_primitives_programs_bind():
    program = str(spmd.make_jaxpr(lambda x: lax.cumsum(x.sum(0) @ x.T))(np.ones((2, 2))))
    for prim in (lax.reduce_sum_p, lax.dot_general_p, lax.cumsum_p):
        assert prim.name in program
    assert lax.psum_p.name == "psum" and lax.while_p.name == "while"
    assert lax.scan_p.name == "scan" and lax.cond_p.name == "cond"
