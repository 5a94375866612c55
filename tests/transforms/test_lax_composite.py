"""lax.composite (one named operation whose meaning is its decomposition), lax.platform_dependent,
lax.stage and lax.copy_p: values against NumPy, what the staged program records, vmap against
the unbatched function, and the misuses (a composite has no derivative, as in JAX)."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_mapped


def _scaled_tangent(x, *, scale):
    return {"tan": jnp.sin(x) / jnp.cos(x) * scale, "count": x.size}


tangent = lax.composite(_scaled_tangent, "my.tangent", version=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, dtypes.bfloat16])
def test_composite_computes_its_decomposition(dtype, x64):
    x = np.array([0.1, -0.4, 0.7], dtype)
    wide = x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)
    out = tangent(x, scale=np.array(2.0, dtype))
    assert_close(out["tan"], (np.tan(wide) * 2).astype(dtype))
    assert int(out["count"]) == 3
    assert_close(spmd.jit(lambda v: tangent(v, scale=3.0))(x)["tan"],
                 (np.tan(wide) * 3).astype(dtype))


def test_the_staged_program_names_the_composite_and_its_attributes():
    jaxpr = spmd.make_jaxpr(lambda v: tangent(v, scale=2.0))(np.ones(2, np.float32))
    (eqn,) = jaxpr.jaxpr.eqns
    assert eqn.prim.name == "composite"
    assert eqn.params["name"] == "my.tangent" and eqn.params["version"] == 2
    assert eqn.params["attributes"] == (("scale", (2.0,)),)


def test_vmap_of_a_composite_matches_the_unbatched_function():
    xs = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    f = lambda v: tangent(v, scale=1.5)["tan"]  # noqa: E731
    check_mapped(spmd.vmap(f), f, (xs,))
    jaxpr = spmd.make_jaxpr(spmd.vmap(f))(xs)
    assert [e.prim.name for e in jaxpr.jaxpr.eqns] == ["composite"]


def test_composite_misuses():
    with pytest.raises(ValueError, match="JVP rule for composite not implemented"):
        spmd.grad(lambda v: tangent(v, scale=1.0)["tan"].sum())(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="keyword arguments are the composite's static"):
        spmd.jit(lambda v: tangent(v, scale=v))(np.ones(2, np.float32))


def test_platform_dependent_runs_the_branch_of_this_platform():
    x = np.arange(3.0, dtype=np.float32)
    branches = dict(cpu=lambda v: v + 1, cuda=lambda v: v - 1, default=lambda v: v * 0)
    want = x + 1 if spmd.devices()[0].platform == "cpu" else x * 0
    assert_close(lax.platform_dependent(x, **branches), want)
    assert_close(spmd.jit(lambda v: lax.platform_dependent(v, **branches))(x), want)
    assert_close(lax.platform_dependent(x, tpu=lambda v: v, default=lambda v: -v), -x)
    with pytest.raises(ValueError, match="Use 'cuda' or 'rocm'"):
        lax.platform_dependent(x, gpu=lambda v: v)
    with pytest.raises(TypeError, match="the 'cpu' branch must be a callable"):
        lax.platform_dependent(x, cpu=1)
    with pytest.raises(NotImplementedError, match="no branch for the platform"):
        lax.platform_dependent(x, tpu=lambda v: v)


def test_stage_is_the_identity_staged_into_the_trace():
    out = lax.stage(np.arange(3))
    assert isinstance(out, spmd.Array) and out.dtype == np.int32
    jaxpr = spmd.make_jaxpr(lambda v: lax.stage(v) * 2)(1.0)
    assert jaxpr.jaxpr.eqns[0].prim is lax.stage_p
    assert float(spmd.grad(lambda v: lax.stage(v) * 3)(1.0)) == 3.0
    check_mapped(spmd.vmap(lax.stage), lax.stage, (np.arange(4.0),))


def test_copy_p_is_the_identity_with_its_rules():
    x = np.arange(4.0, dtype=np.float32)
    assert_close(lax.copy_p.bind(x), x)
    assert float(spmd.grad(lambda v: (lax.copy_p.bind(v) * v).sum())(x).sum()) == 2 * x.sum()
    check_mapped(spmd.vmap(lax.copy_p.bind), lax.copy_p.bind, (x.reshape(2, 2),))
    assert [e.prim for e in spmd.make_jaxpr(lax.copy_p.bind)(x).jaxpr.eqns] == [lax.copy_p]
