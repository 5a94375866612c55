"""jit's ahead-of-time stages (JAX's Lowered and Compiled): the texts, XLA's fusion of
sum(x + y * z) read from the optimized HLO, cost and memory figures against closed forms,
compiler options reaching XLA, the compiled call with pytrees, keywords and static arguments
against the function itself and NumPy, its checks in JAX's words, and ShapeDtypeStruct /
eval_shape."""
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.transforms import backend
from spmd.transforms.core import ShapedArray
from tests.oracles import assert_close

RNG = np.random.default_rng(0)
NO_TREE = {"xla_disable_hlo_passes": "tree_reduction_rewriter"}


def sum_of_product(x, y, z):
    return jnp.sum(x + y * z)


def entry_fusions(hlo: str) -> int:
    """The kernels of the entry computation (each fusion is one loop over memory)."""
    return hlo[hlo.index("ENTRY"):].count(" fusion(")


def vectors(n, dtype=np.float32):
    return [RNG.standard_normal(n).astype(dtype) for _ in range(3)]


# ---------------------------------------------------------------- XLA's fusion, from its HLO
def test_sum_of_product_compiles_to_one_fused_kernel():
    spec = spmd.ShapeDtypeStruct((32,), np.float32)
    compiled = spmd.jit(sum_of_product).lower(spec, spec, spec).compile()
    hlo = compiled.as_text()
    assert "is_scheduled=true" in hlo  # the optimized module, after XLA's passes
    assert entry_fusions(hlo) == 1 and "multiply" in hlo and "reduce" in hlo
    assert compiled.memory_analysis().temp_size_in_bytes == 0  # no intermediate buffer
    x, y, z = vectors(32)
    assert_close(compiled(x, y, z), np.float32(np.sum(x.astype(np.float64) + y * z)),
                 rtol=1e-5)


def test_compiler_options_reach_xla():
    """Past 32 elements XLA's CPU compiler sums as a tree: x + y*z is written out for two
    reduction kernels; disabling that pass (a compiler option) gives one kernel again."""
    spec = spmd.ShapeDtypeStruct((1024,), np.float32)
    lowered = spmd.jit(sum_of_product).lower(spec, spec, spec)
    tree, single = lowered.compile(), lowered.compile(compiler_options=NO_TREE)
    assert entry_fusions(tree.as_text()) == 3
    assert tree.memory_analysis().temp_size_in_bytes >= 1024 * 4
    assert entry_fusions(single.as_text()) == 1
    assert single.memory_analysis().temp_size_in_bytes == 0
    x, y, z = vectors(1024)
    expected = np.float32(np.sum(x.astype(np.float64) + y * z))
    assert_close(tree(x, y, z), expected, rtol=1e-4)
    assert_close(single(x, y, z), expected, rtol=1e-4)


def test_jits_compiler_options_compile_its_calls_and_compile_overrides_them():
    spec = spmd.ShapeDtypeStruct((1024,), np.float32)
    f = spmd.jit(sum_of_product, compiler_options=NO_TREE)
    lowered = f.lower(spec, spec, spec)
    assert entry_fusions(lowered.compile().as_text()) == 1
    assert entry_fusions(lowered.compile({"xla_disable_hlo_passes": ""}).as_text()) == 3
    x, y, z = vectors(1024)
    assert_close(f(x, y, z), np.float32(np.sum(x.astype(np.float64) + y * z)), rtol=1e-4)
    with pytest.raises(ValueError, match="XLA rejected the compiler_options"):
        spmd.jit(sum_of_product, compiler_options={"xla_no_such_option": 1})(x, y, z)


def test_compiler_options_misuse():
    lowered = spmd.jit(jnp.sin).lower(np.float32(1))
    with pytest.raises(ValueError, match="XLA rejected the compiler_options.*xla_no_such_option"):
        lowered.compile({"xla_no_such_option": True})
    with pytest.raises(TypeError, match="compiler_options must be a dict.*got list"):
        lowered.compile([("xla_cpu_enable_fast_math", True)])
    with pytest.raises(TypeError, match="compiler_options must be a dict"):
        spmd.jit(jnp.sin, compiler_options="fast")


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("n", [8, 32])
def test_cost_and_memory_analysis_match_the_closed_forms(n):
    spec = spmd.ShapeDtypeStruct((n,), np.float32)
    lowered = spmd.jit(sum_of_product).lower(spec, spec, spec)
    cost = lowered.compile().cost_analysis()
    # n multiplies, n adds, n - 1 adds of the reduction; three inputs read, one scalar written
    assert cost["flops"] == 3 * n - 1
    assert cost["bytes accessed"] == 3 * n * 4 + 4
    assert lowered.cost_analysis()["flops"] == 3 * n - 1
    memory = lowered.compile().memory_analysis()
    assert (memory.argument_size_in_bytes, memory.output_size_in_bytes) == (3 * n * 4, 4)


# ---------------------------------------------------------------- the lowered texts
def test_lowered_text_in_both_dialects():
    x = np.ones((2, 3), np.float32)
    lowered = spmd.jit(lambda a, b: jnp.tanh(a @ b.T)).lower(x, x)
    text = lowered.as_text()
    assert lowered.as_text("stablehlo") == text and "func.func public @main" in text
    assert re.search(r"stablehlo\.dot_general .*tensor<2x3xf32>", text)
    backend.verify(text)
    assert str(lowered.compiler_ir()) == text == str(lowered.compiler_ir("stablehlo"))
    hlo = lowered.as_text(dialect="hlo")
    assert hlo.startswith("HloModule") and "dot(" in hlo and "tanh(" in hlo
    assert lowered.compiler_ir("hlo").as_hlo_text() == hlo
    with pytest.raises(ValueError, match="unknown dialect: mhlo; use one of stablehlo, hlo"):
        lowered.as_text("mhlo")
    with pytest.raises(ValueError, match="unknown dialect: tosa"):
        lowered.compiler_ir("tosa")


# ---------------------------------------------------------------- the compiled call
def step(params, x, *, scale, bias=0.0):
    return {"out": jnp.tanh(x @ params["w"]) * scale + bias, "norm": jnp.sum(params["w"] ** 2)}


def step_numpy(params, x, scale, bias=0.0):
    w = params["w"].astype(np.float64)
    return {"out": (np.tanh(x @ w) * scale + bias).astype(np.float32),
            "norm": np.float32(np.sum(w ** 2))}


PARAMS = {"w": RNG.standard_normal((3, 2)).astype(np.float32)}
X = RNG.standard_normal((4, 3)).astype(np.float32)


def test_compiled_takes_pytrees_keywords_and_drops_static_arguments():
    f = spmd.jit(step, static_argnames="scale", donate_argnums=0)
    lowered = f.lower(PARAMS, X, scale=2.0, bias=np.float32(0.5))
    info = lowered.args_info
    assert [a.shape for a in spmd.tree_util.tree_leaves(info)] == [(3, 2), (4, 3), ()]
    assert info[0][0]["w"].donated and not info[0][1].donated and not info[1]["bias"].donated
    assert lowered.donate_argnums == (0,)
    assert lowered.in_tree == spmd.tree_util.tree_structure(((PARAMS, X), {"bias": 0.0}))
    out_info = lowered.out_info
    assert out_info == {"out": spmd.ShapeDtypeStruct((4, 2), np.float32),
                         "norm": spmd.ShapeDtypeStruct((), np.float32)}
    compiled = lowered.compile()
    assert compiled.args_info[1]["bias"].dtype == np.float32 and compiled.out_info == out_info
    got = compiled({"w": PARAMS["w"].copy()}, X, bias=np.float32(0.5))  # scale is baked in
    assert_close(got, step_numpy(PARAMS, X, 2.0, 0.5), rtol=1e-5)
    assert_close(got, spmd.jit(step, static_argnames="scale")(PARAMS, X, scale=2.0, bias=0.5))


def test_several_positional_static_arguments():
    f = spmd.jit(lambda n, x, k: x * n + k, static_argnums=(0, 2))
    compiled = f.lower(3, X, 1).compile()
    assert_close(compiled(X), X * 3 + 1)
    assert "Placement('single'" in repr(compiled.input_shardings)
    device = backend.default_device()
    assert compiled.input_shardings == ((spmd.transforms.stages.Placement("single", [device]),),
                                        {})
    assert compiled.output_shardings.device_set == {device}


def test_shaped_array_and_float64_structs_lower_without_data():
    # without x64, a float64 type lowers as float32, as JAX canonicalizes it
    compiled = spmd.jit(jnp.cos).lower(spmd.ShapeDtypeStruct((3,), np.float64)).compile()
    assert compiled.args_info[0][0].dtype == np.float32
    assert_close(compiled(X[0]), np.cos(X[0]))
    lowered = spmd.jit(jnp.cos).lower(ShapedArray((2, 2), np.int32))
    assert "tensor<2x2xi32>" in lowered.as_text()


# ---------------------------------------------------------------- its checks
@pytest.fixture(scope="module")
def compiled_step():
    return spmd.jit(step, static_argnames="scale").lower(PARAMS, X, scale=2.0).compile()


MISUSES = [
    ("dtype", lambda c: c(PARAMS, X.astype(np.int32)),
     r"Argument types differ from the types for which this computation was compiled\. The "
     r"mismatches are:\nArgument 1 \(x\) compiled with float32\[4,3\] and called with "
     r"int32\[4,3\]"),
    ("shape", lambda c: c({"w": X}, X[:2]),
     r"Argument 0 \(params\)\['w'\] compiled with float32\[3,2\] and called with "
     r"float32\[4,3\]\nArgument 1 \(x\) compiled with float32\[4,3\] and called with "
     r"float32\[2,3\]"),
    ("tree", lambda c: c({"v": PARAMS["w"]}, X),
     r"input pytree does not match .* it was called with: pytree structure mismatch at "
     r"args\[0\]"),
    ("count", lambda c: c(PARAMS),
     "input pytree does not match .*mismatch at args: expected .*, got PyTreeDef"),
    ("static_again", lambda c: c(PARAMS, X, scale=2.0),
     r"input pytree does not match .*kwargs"),
    ("struct", lambda c: c(PARAMS, spmd.ShapeDtypeStruct((4, 3), np.float32)),
     "a compiled step runs on data: argument leaf 1 is a ShapeDtypeStruct; pass an array"),
    ("traced", lambda c: spmd.grad(lambda x: c(PARAMS, x)["norm"])(X),
     "Cannot apply transformations .* to a function lowered and compiled for a particular "
     "signature"),
]


@pytest.mark.parametrize("call,match", [m[1:] for m in MISUSES], ids=[m[0] for m in MISUSES])
def test_compiled_call_checks_its_arguments(compiled_step, call, match):
    with pytest.raises(TypeError, match=match):
        call(compiled_step)


# ---------------------------------------------------------------- ShapeDtypeStruct, eval_shape
def test_eval_shape_on_arrays_structs_and_duck_types():
    class Duck:
        shape, dtype = (3, 5), np.dtype(np.float32)
    calls = []

    def f(a, b, *, c):
        calls.append(type(a))
        return {"prod": a @ b, "mean": jnp.mean(a, axis=0), "scaled": c * 2.0}
    out = spmd.eval_shape(f, spmd.ShapeDtypeStruct((2, 3), np.float32), Duck(), c=1.0)
    assert out == {"prod": spmd.ShapeDtypeStruct((2, 5), np.float32),
                   "mean": spmd.ShapeDtypeStruct((3,), np.float32),
                   "scaled": spmd.ShapeDtypeStruct((), np.float32, weak_type=True)}
    assert spmd.eval_shape(jnp.argmax, X) == spmd.ShapeDtypeStruct((), np.int32)
    assert spmd.eval_shape(lambda p, x: step(p, x, scale=1.0), PARAMS, X) == jit_out_info()
    with pytest.raises(ValueError, match=r"matmul: .*shapes \(2, 3\) and \(4, 3\)"):
        spmd.eval_shape(f, X[:2], X, c=1.0)
    assert not issubclass(calls[0], (np.ndarray, spmd.transforms.array.Array))  # traced, no data


def jit_out_info():
    return spmd.jit(step, static_argnames="scale").lower(PARAMS, X, scale=1.0).out_info


def test_shape_dtype_struct_as_jax_has_it():
    s = spmd.ShapeDtypeStruct([2, 3], "float32")
    assert (s.shape, s.dtype, s.ndim, s.size, len(s)) == ((2, 3), np.float32, 2, 6, 2)
    assert repr(s) == "ShapeDtypeStruct(shape=(2, 3), dtype=float32)"
    assert s == spmd.ShapeDtypeStruct((2, 3), np.float32) and hash(s) == hash(s.update())
    assert s != s.update(weak_type=True) and s.update(shape=(4,)).shape == (4,)
    assert spmd.ShapeDtypeStruct.like(X) == spmd.ShapeDtypeStruct((4, 3), np.float32)
    with pytest.raises(AttributeError, match="ShapeDtypeStruct is immutable: cannot set shape"):
        s.shape = (1,)
    with pytest.raises(ValueError, match="ShapeDtypeStruct: dtype must be specified"):
        spmd.ShapeDtypeStruct((2,), None)
    with pytest.raises(TypeError, match="len\\(\\) of unsized object"):
        len(spmd.ShapeDtypeStruct((), np.int8))
