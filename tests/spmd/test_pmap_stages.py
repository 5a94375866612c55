"""pmap's ahead-of-time stages: `pmap(f).lower(*args)` gives the same Lowered and Compiled as
jit; the compiled pmap takes f's arguments (pytrees, several arguments, in_axes/out_axes,
keywords, static arguments dropped) and equals the pmap itself and NumPy; its texts show the
replicated program; cost figures match closed forms; compiler options reach XLA; placements
name the devices; misuses are TypeErrors in JAX's words."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from spmd.transforms import backend
from spmd.transforms.stages import Placement
from tests.oracles import assert_close

pytestmark = pytest.mark.usefixtures("poisoned_jax")  # never tries to import jax

N = 8
RNG = np.random.default_rng(1)
W = RNG.standard_normal((3, 2)).astype(np.float32)
X = RNG.standard_normal((N, 4, 3)).astype(np.float32)
XT = np.ascontiguousarray(np.moveaxis(X, 0, 1))  # the mapped axis at 1


def step(params, x, scale, *, shift):
    h = jnp.tanh(x @ params["w"]) * scale + shift
    return {"h": h, "total": lax.psum(jnp.sum(h), "i")}


def step_numpy(w, x, scale, shift):
    """The stacked results of step over the leading axis of x."""
    h = np.tanh(x.astype(np.float64) @ w) * scale + shift
    total = np.broadcast_to(h.sum(), (N,))
    return {"h": np.moveaxis(h, 0, 2).astype(np.float32), "total": total.astype(np.float32)}


def mapped():
    return spmd.pmap(step, "i", in_axes=({"w": None}, 1, None), out_axes={"h": 2, "total": 0},
                     static_broadcasted_argnums=2)


def test_compiled_pmap_takes_the_functions_arguments():
    shift = np.arange(N, dtype=np.float32)  # keywords are mapped over axis 0
    lowered = mapped().lower({"w": W}, XT, 2.0, shift=shift)
    compiled = lowered.compile()
    got = compiled({"w": W}, XT, shift=shift)  # the static scale is baked in
    expected = step_numpy(W, X, 2.0, shift[:, None, None])
    assert_close(got, expected, rtol=1e-5)
    assert_close(got, mapped()({"w": W}, XT, 2.0, shift=shift))
    assert lowered.out_info == {"h": spmd.ShapeDtypeStruct((4, 2, N), np.float32),
                                "total": spmd.ShapeDtypeStruct((N,), np.float32)}
    assert [a.shape for a in spmd.tree_util.tree_leaves(lowered.args_info)] == [
        (3, 2), (4, N, 3), (N,)]


def test_structs_lower_without_data_and_texts_show_the_replicas():
    spec = spmd.ShapeDtypeStruct((4, N, 3), np.float32)
    lowered = mapped().lower({"w": spmd.ShapeDtypeStruct((3, 2), np.float32)}, spec, 1.0,
                             shift=spmd.ShapeDtypeStruct((N,), np.float32))
    text = lowered.as_text()
    assert f"mhlo.num_replicas = {N} : i32" in text and "stablehlo.all_reduce" in text
    backend.verify(text)
    assert str(lowered.compiler_ir("stablehlo")) == text
    hlo = lowered.as_text("hlo")
    assert "all-reduce(" in hlo and lowered.compiler_ir("hlo").as_hlo_text() == hlo
    optimized = lowered.compile().as_text()
    assert "is_scheduled=true" in optimized
    assert f"replica_groups={{{{{','.join(map(str, range(N)))}}}}}" in optimized
    with pytest.raises(ValueError, match="unknown dialect: mlir"):
        lowered.as_text("mlir")


def test_cost_analysis_and_compiler_options():
    lowered = spmd.pmap(lambda x: x * 2.0 + 1.0).lower(X)
    per_device = X[0].size
    assert lowered.cost_analysis()["flops"] == 2 * per_device  # one multiply, one add each
    compiled = lowered.compile()
    memory = compiled.memory_analysis()
    assert memory.argument_size_in_bytes == memory.output_size_in_bytes == per_device * 4
    plain = lowered.compile(compiler_options={"xla_disable_all_hlo_passes": True})
    assert "fusion(" in compiled.as_text() and "fusion(" not in plain.as_text()
    assert_close(plain(X), X * 2 + 1)
    assert_close(compiled(X), X * 2 + 1)


def test_placements_name_the_devices():
    compiled = mapped().lower({"w": W}, XT, 1.0, shift=np.zeros(N, np.float32)).compile()
    devices = spmd.local_devices()[:N]
    stacked, replicated = Placement("stacked", devices), Placement("replicated", devices)
    assert compiled.input_shardings == (({"w": replicated}, stacked), {"shift": stacked})
    assert compiled.output_shardings == {"h": stacked, "total": stacked}
    assert stacked.device_set == set(devices) and not stacked.is_fully_replicated
    out_none = spmd.pmap(lambda x: lax.psum(x, "i"), "i", out_axes=None).lower(X).compile()
    assert out_none.output_shardings == replicated and out_none.output_shardings.num_devices == N
    assert_close(out_none(X), X.sum(0), rtol=1e-5)


@pytest.fixture(scope="module")
def compiled_step():
    return mapped().lower({"w": W}, XT, 1.0, shift=np.zeros(N, np.float32)).compile()


MISUSES = [
    ("dtype", lambda c: c({"w": W}, XT.astype(np.int32), shift=np.zeros(N, np.float32)),
     r"Argument types differ .*\nArgument 1 \(x\) compiled with float32\[4,8,3\] and called "
     r"with int32\[4,8,3\]"),
    ("mapped_size", lambda c: c({"w": W}, XT[:, :4], shift=np.zeros(N, np.float32)),
     r"Argument 1 \(x\) compiled with float32\[4,8,3\] and called with float32\[4,4,3\]"),
    ("tree", lambda c: c([W], XT, shift=np.zeros(N, np.float32)),
     r"input pytree does not match .*mismatch at args\[0\]: expected dict, got list"),
    ("keyword", lambda c: c({"w": W}, XT),
     "input pytree does not match the input pytree it was called with"),
]


@pytest.mark.parametrize("call,match", [m[1:] for m in MISUSES], ids=[m[0] for m in MISUSES])
def test_compiled_pmap_checks_its_arguments(compiled_step, call, match):
    with pytest.raises(TypeError, match=match):
        call(compiled_step)
