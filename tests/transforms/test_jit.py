"""jit: one trace and one compile per signature, static and donated arguments, the StableHLO
text, and the error texts."""
import functools

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close
from spmd.transforms import backend, core


def counting(fn):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)
    return wrapped, calls


def test_one_trace_per_signature():
    f, calls = counting(lambda x, y: jnp.tanh(x * y + 1.0))
    jf = spmd.jit(f)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for _ in range(3):
        assert_close(jf(x, x), np.tanh(x * x + 1.0))
    assert len(calls) == 1
    jf(x.astype(np.int32), x.astype(np.int32))      # a new dtype: a new trace
    jf(x[:1], x[:1])                                  # a new shape: a new trace
    assert len(calls) == 3
    jf(jnp.asarray(x), jnp.asarray(x))              # device arrays of the first signature
    assert len(calls) == 3


def test_weak_scalar_argument_is_its_own_signature():
    f, calls = counting(lambda x: x * 2)
    jf = spmd.jit(f)
    assert jf(3.0).dtype == np.float32 and jf(3.0).weak_type
    assert jf(np.float32(3.0)).weak_type is False
    assert len(calls) == 2


def test_static_argnums_and_argnames():
    f, calls = counting(lambda x, n, *, mode="sum": jnp.sum(x ** n) if mode == "sum" else
                        jnp.max(x ** n))
    jf = spmd.jit(f, static_argnums=1, static_argnames="mode")
    x = np.array([1.0, -2.0, 3.0], np.float32)
    assert_close(jf(x, 2), np.float32(14.0))
    assert_close(jf(x, 3), np.float32(-8 + 1 + 27))
    assert_close(jf(x, 2, mode="max"), np.float32(9.0))
    assert_close(jf(x, 2), np.float32(14.0))
    assert len(calls) == 3


def test_pytree_arguments_and_results():
    def f(params, x):
        return {"out": params["w"] @ x + params["b"], "norm": jnp.sum(params["w"] ** 2)}
    w = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    b = np.ones(2, np.float32)
    x = np.ones(3, np.float32)
    out = spmd.jit(f)({"w": w, "b": b}, x)
    assert_close(out, {"out": w @ x + b, "norm": np.float32((w ** 2).sum())})


def test_decorator_forms():
    @spmd.jit
    def f(x):
        return x + 1

    @spmd.jit(static_argnums=(1,))
    def g(x, k):
        return x * k
    assert_close(f(np.float32(1)), np.float32(2))
    assert_close(g(np.float32(2), 3), np.float32(6))


def test_lowered_text_is_one_fused_program():
    f = spmd.jit(lambda x, y, z: jnp.sum(x + y * z))
    x = np.ones(8, np.float32)
    text = f.lower(x, x, x).as_text()
    assert text.count("func.func") == 1
    assert "stablehlo.multiply" in text and "stablehlo.reduce" in text
    backend.verify(text)
    hlo = f.lower(x, x, x).compile().as_text()
    assert "fusion" in hlo  # XLA fused the elementwise ops into the reduction


def test_closure_constants_and_nested_jit():
    c = np.arange(3, dtype=np.float32)
    inner = spmd.jit(lambda x: x * c)
    outer = spmd.jit(lambda x: inner(x) + inner(x * 2))
    x = np.ones(3, np.float32)
    assert_close(outer(x), x * c + 2 * x * c)
    assert outer.lower(x).as_text().count("func.func") == 1  # the inner jit is inlined


def test_donated_argument_is_consumed():
    f = spmd.jit(lambda x: x * 2, donate_argnums=0)
    x = jnp.asarray(np.ones(4, np.float32))
    y = f(x)
    assert_close(y, np.full(4, 2, np.float32))
    assert x.is_deleted()
    with pytest.raises(RuntimeError, match="Array has been deleted with shape=f32"):
        np.asarray(x)


def test_donate_argnames_and_donated_keyword_arguments():
    f = spmd.jit(lambda x, y: x * 2 + y, donate_argnames="x")
    x, y = jnp.asarray(np.ones(4, np.float32)), jnp.asarray(np.arange(4, dtype=np.float32))
    assert_close(f(x=x, y=y), np.arange(4, dtype=np.float32) + 2)  # x passed by name
    assert x.is_deleted() and not y.is_deleted()
    g = spmd.jit(lambda x, y: x - y, donate_argnums=1)  # the name y follows from the number
    a, b = jnp.asarray(np.ones(3, np.float32)), jnp.asarray(np.ones(3, np.float32))
    assert_close(g(a, y=b), np.zeros(3, np.float32))
    assert b.is_deleted() and not a.is_deleted()


def test_static_argnames_follow_from_static_argnums():
    calls = []

    def f(x, n):
        calls.append(n)
        return x * n
    jf = spmd.jit(f, static_argnums=1)
    x = np.ones(3, np.float32)
    assert_close(jf(x, n=3), x * 3)   # n by name is static too: a Python int in the trace
    assert_close(jf(x, n=4), x * 4)
    assert_close(jf(x, 3), x * 3)
    assert calls == [3, 4, 3]  # a new trace per value; by name and by position differ


def test_inline_traces_into_the_enclosing_program():
    f = lambda x: jnp.sin(x) * 2.0  # noqa: E731
    x = np.linspace(0, 1, 5, dtype=np.float32)
    inlined = spmd.make_jaxpr(spmd.jit(f, inline=True))(x)
    called = spmd.make_jaxpr(spmd.jit(f))(x)
    assert "jit[" not in str(inlined) and "sin" in str(inlined)
    assert "jit[" in str(called)
    assert_close(spmd.jit(f, inline=True)(x), np.sin(x) * 2.0)
    assert_close(spmd.grad(lambda v: jnp.sum(spmd.jit(f, inline=True)(v)))(x), 2 * np.cos(x))


def test_keywords():
    assert_close(spmd.jit(lambda x: x + 1, backend="cpu", keep_unused=True)(np.float32(1)),
                 np.float32(2))
    with pytest.raises(TypeError, match=r"jit\(\) got an unexpected keyword argument 'x'"):
        spmd.jit(lambda x: x, x=1)
    with pytest.raises(TypeError, match=r"jit\(\) got an unexpected keyword argument "
                                        r"'static_argnum'"):
        spmd.jit(static_argnum=1)


@pytest.mark.parametrize("keyword,value,why", [
    ("abstracted_axes", ("n",), "spmd traces with static shapes only"),
])
def test_keywords_that_need_what_spmd_lacks(keyword, value, why):
    with pytest.raises(NotImplementedError, match=rf"jit\({keyword}=\.\.\.\) is not supported: "
                                                  rf"{why}.*; leave {keyword} out"):
        spmd.jit(lambda x: x, **{keyword: value})


def test_eager_equals_jit_numerics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    fun = lambda a: jnp.exp(jnp.sin(a) * 0.5) / (1.0 + a * a)  # noqa: E731
    # Same lowering per op; XLA's fusion may still reorder a rounding (1 ulp), as in JAX.
    np.testing.assert_allclose(np.asarray(fun(x)), np.asarray(spmd.jit(fun)(x)), rtol=3e-7)


def test_traced_bool_error_names_operation_and_fix():
    f = spmd.jit(lambda x: x if x > 0 else -x)
    with pytest.raises(core.ConcretizationError, match=r"Python bool.*lax.cond.*static_argnums"):
        f(np.float32(1.0))


def test_traced_int_and_index_errors():
    with pytest.raises(core.ConcretizationError, match="Python int"):
        spmd.jit(lambda x: int(x))(np.int32(1))
    with pytest.raises(core.ConcretizationError, match="Python index"):
        spmd.jit(lambda x: [1, 2, 3][x])(np.int32(1))


def test_unhashable_static_argument():
    f = spmd.jit(lambda x, cfg: x * len(cfg), static_argnums=1)
    with pytest.raises(ValueError, match=r"jit static argument 1 \(static_argnums\) of <lambda> "
                                         r"must be hashable.*unhashable list: \[1, 2\]"):
        f(np.float32(1), [1, 2])


def test_dtype_the_backend_lacks():
    with pytest.raises(TypeError, match="not supported by spmd's XLA backend"):
        spmd.jit(lambda x: x)(np.array(["a"]))
    with pytest.raises(TypeError, match="not supported"):
        jnp.asarray(np.zeros(2, np.float128) if hasattr(np, "float128") else np.array(["x"]))


def test_escaped_tracer_is_reported():
    leaked = []

    @spmd.jit
    def f(x):
        leaked.append(x)
        return x + 1
    f(np.float32(1))
    with pytest.raises(core.EscapedTracerError, match="outside the transform"):
        jnp.sin(leaked[0])


def test_persistent_compilation_cache(tmp_path, monkeypatch):
    """With every in-memory cache cleared, the program comes from disk (not a recompile) and
    computes the same numbers."""
    loaded = []  # the executables found on disk
    load_from_disk = backend._load_from_disk

    def recording_load(*args):
        exe = load_from_disk(*args)
        if exe is not None:
            loaded.append(exe)
        return exe
    monkeypatch.setattr(backend, "_load_from_disk", recording_load)
    spmd.config.update("compilation_cache_dir", str(tmp_path))
    try:
        f = spmd.jit(lambda x: jnp.cos(x) * 3.0 - 1.25)
        x = np.linspace(0, 1, 7, dtype=np.float32)
        expected = np.cos(x) * 3.0 - 1.25
        assert_close(f(x), expected)
        assert list(tmp_path.iterdir()), "the executable was written to the cache"
        assert not loaded, "nothing to load before the first save"
        spmd.clear_caches()
        assert_close(f(x), expected)  # loaded from disk, same numbers
        assert loaded, "the executable was not loaded from disk"
    finally:
        spmd.config.update("compilation_cache_dir", "")


def test_repeat_calls_with_pytrees_of_arrays():
    """The repeat-call path for pytree arguments: right values, and no mix-up between
    structures that hold arrays of the same types."""
    f, calls = counting(lambda p, x: [p["w"] * x, p["b"] + x])
    jf = spmd.jit(f)
    r = np.arange(3, dtype=np.float32)
    x = jnp.asarray(r)
    p = {"w": jnp.asarray(np.full(3, 2, np.float32)), "b": jnp.asarray(np.ones(3, np.float32))}
    for _ in range(3):
        w_x, b_x = jf(p, x)
        assert_close(w_x, 2 * r)
        assert_close(b_x, 1 + r)
    assert len(calls) == 1
    swapped = jf({"b": p["w"], "w": p["b"]}, x)  # same structure and avals, other values
    assert_close(swapped[0], r)
    g = spmd.jit(lambda p, x: p[0] - x)
    assert_close(g((x, x), x), np.zeros(3, np.float32))
    assert_close(g([x, x], x), np.zeros(3, np.float32))  # a list, not a tuple: a new signature
    assert_close(g((x, x), x), np.zeros(3, np.float32))


def test_repeat_call_with_a_pmap_result():
    """An array spread over several devices, with the avals of a signature seen before, is
    moved onto the program's device rather than handed to XLA as it is."""
    n = spmd.device_count()
    f = spmd.jit(lambda a: a + 1)
    host = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    assert_close(f(jnp.asarray(host)), host + 1)
    spread = spmd.pmap(lambda v: v * 2)(host)
    assert_close(f(spread), host * 2 + 1)
    assert_close(f(spread), host * 2 + 1)


def test_repeat_calls_with_closed_over_constants():
    """The fast path passes a program's constants before the arguments, for one argument (looked
    up by its aval alone) and for several."""
    rng = np.random.default_rng(3)
    c = rng.standard_normal(3).astype(np.float32)
    const = jnp.asarray(c)
    one = spmd.jit(lambda a: a * const)
    two = spmd.jit(lambda a, b: a * const - b)
    x = rng.standard_normal(3).astype(np.float32)
    y = rng.standard_normal(3).astype(np.float32)
    for _ in range(3):  # the first call traces, the others take the fast path
        assert_close(one(jnp.asarray(x)), x * c)
        assert_close(two(jnp.asarray(x), jnp.asarray(y)), x * c - y)
    # a one-argument call with other avals is its own signature, not the cached one
    assert_close(one(jnp.asarray(x[:1])), x[:1] * c)


def test_clear_caches_retraces_and_recompiles():
    f, calls = counting(lambda x: x * 3)
    jf = spmd.jit(f)
    x = jnp.asarray(np.ones(2, np.float32))
    jf(x)
    jf(x)
    spmd.clear_caches()
    assert not backend._compile_cache and not backend._loaded_cache
    assert_close(jf(x), np.full(2, 3.0, np.float32))
    assert len(calls) == 2


def test_float0_through_jit():
    """Gradients of integer inputs (float0, as JAX) come out of a jitted gradient as host zeros
    of float0, on the first call and on repeat calls, and float0 arguments are taken."""
    f = lambda x, n: jnp.sum(x * n)  # noqa: E731
    g = spmd.grad(f, argnums=(0, 1), allow_int=True)
    x, n = jnp.asarray(np.ones(3, np.float32)), jnp.asarray(np.arange(3, dtype=np.int32))
    eager = g(x, n)
    for _ in range(2):
        dx, dn = spmd.jit(g)(x, n)
        assert_close(dx, np.asarray(eager[0]))
        assert dn.dtype == spmd.dtypes.float0 and dn.shape == (3,)
    passthrough = spmd.jit(lambda t, v: (t, v * 2))
    t, v = passthrough(np.zeros((2, 1), spmd.dtypes.float0), x)
    assert t.dtype == spmd.dtypes.float0 and t.shape == (2, 1)
    assert_close(v, 2 * np.ones(3, np.float32))


ONE, THREE = np.float32(1), np.float32(3)


def test_the_jitted_function_calls_like_the_function():
    """jit returns a plain function: methods bind, keywords and no-argument calls reach the
    function, the repeat call of one device array (its fast path) gives what the first gave,
    and the wrapper carries the function's name, docstring, lower and trace."""
    class Scaler:
        def __init__(self, k):
            self.k = k

        @functools.partial(spmd.jit, static_argnums=0)  # as JAX's docs write a method
        def scaled(self, x):
            return x * self.k

    x = jnp.asarray(np.arange(3, dtype=np.float32))
    assert_close(Scaler(2).scaled(x), np.arange(3, dtype=np.float32) * 2)

    def f(x=ONE, *, y=THREE):
        """f's docstring"""
        return x * y + 1

    jf = spmd.jit(f)
    assert (jf.__name__, jf.__doc__, jf.__wrapped__) == ("f", "f's docstring", f)
    assert_close(jf(), np.float32(4))
    assert_close(jf(x=np.float32(2)), np.float32(7))
    assert_close(jf(np.float32(2), y=np.float32(5)), np.float32(11))
    first = jf(x)
    for _ in range(3):  # repeat calls of one device array
        assert_close(jf(x), np.arange(3, dtype=np.float32) * 3 + 1)
    assert_close(first, np.arange(3, dtype=np.float32) * 3 + 1)
    assert "stablehlo.multiply" in jf.lower(x).as_text()
    assert {"mul", "add"} <= {e.prim.name for e in jf.trace(x).jaxpr.eqns}
    with pytest.raises(TypeError, match="positional"):
        jf(x, x, x)  # the function's own TypeError
