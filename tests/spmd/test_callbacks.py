"""spmd.pure_callback and spmd.debug.print/callback: Python called from inside programs,
eagerly and under jit, vmap, grad, pmap and loop bodies, checked against NumPy applied to the
same values (and what JAX prints: one line per vmap element and per pmap device)."""
import numpy as np
import pytest

import spmd
import spmd.debug
import spmd.numpy as jnp
from spmd.transforms.backend import JaxRuntimeError


def like(shape, dtype):
    return np.empty(shape, dtype)  # anything with .shape and .dtype types a result


# ---------------------------------------------------------------- pure_callback
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.uint8, np.bool_,
                                   np.complex64])
def test_pure_callback_eager_and_jit_over_dtypes(dtype):
    x = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    host = lambda v: (v[::-1], v.sum(axis=0).astype(dtype))  # noqa: E731
    types = (like((2, 3), dtype), like((3,), dtype))
    f = lambda v: spmd.pure_callback(host, types, v)  # noqa: E731
    for run in (f, spmd.jit(f)):
        flipped, total = run(x)
        assert flipped.dtype == dtype and total.dtype == dtype
        np.testing.assert_array_equal(np.asarray(flipped), x[::-1])
        np.testing.assert_array_equal(np.asarray(total), x.sum(axis=0).astype(dtype))


def test_pure_callback_pytrees_kwargs_and_its_results_used_by_the_program():
    def host(tree, *, scale):
        return {"s": (tree["a"] * scale + tree["b"]).astype(np.float32)}

    @spmd.jit
    def f(a, b):
        out = spmd.pure_callback(host, {"s": like((3,), np.float32)}, {"a": a, "b": b},
                                 scale=np.float32(3))
        return out["s"] * 2 + 1
    a, b = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    np.testing.assert_allclose(np.asarray(f(a, b)), (a * 3 + b) * 2 + 1)


@pytest.mark.parametrize("method,seen_shapes", [
    ("sequential", [((), ())] * 3), ("sequential_unrolled", [((), ())] * 3),
    ("expand_dims", [((3,), (1,))]), ("broadcast_all", [((3,), (3,))]),
    ("legacy_vectorized", [((3,), ())])])
def test_pure_callback_vmap_methods(method, seen_shapes):
    seen = []

    def host(a, b):
        seen.append((a.shape, b.shape))
        return (a * b + 1).astype(np.float32)
    x, y = np.arange(3, dtype=np.float32), np.float32(2)
    f = spmd.vmap(lambda a, b: spmd.pure_callback(host, like((), np.float32), a, b,
                                                  vmap_method=method), in_axes=(0, None))
    np.testing.assert_allclose(np.asarray(f(x, y)), x * y + 1)
    assert seen == seen_shapes
    np.testing.assert_allclose(np.asarray(spmd.jit(f)(x, y)), x * y + 1)


def test_pure_callback_in_loop_bodies_and_pmap():
    step = lambda c: spmd.pure_callback(np.cos, like((2,), np.float32), c)  # noqa: E731
    out = spmd.lax.fori_loop(0, 3, lambda i, c: step(c), np.zeros(2, np.float32))
    np.testing.assert_allclose(np.asarray(out), np.cos(np.cos(np.cos(np.zeros(2)))), rtol=1e-6)
    x = np.arange(8, dtype=np.float32).reshape(8, 1)
    np.testing.assert_allclose(np.asarray(spmd.pmap(step)(np.repeat(x, 2, 1))),
                               np.cos(np.repeat(x, 2, 1)), rtol=1e-6)


def test_pure_callback_under_grad_of_a_constant_argument_only():
    f = lambda w, x: (w * spmd.pure_callback(np.sin, x, x)).sum()  # noqa: E731
    x = np.linspace(0, 1, 4, dtype=np.float32)
    np.testing.assert_allclose(np.asarray(spmd.grad(f)(np.ones(4, np.float32), x)), np.sin(x),
                               rtol=1e-6)


def test_pure_callback_errors():
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="Pure callbacks do not support JVP. Please use "
                                         "`jax.custom_jvp`"):
        spmd.grad(lambda v: spmd.pure_callback(np.sin, v, v).sum())(x)
    with pytest.raises(NotImplementedError, match="vmap is only supported for the pure_callback "
                                                  "primitive when vmap_method is one of"):
        spmd.vmap(lambda v: spmd.pure_callback(np.sin, v, v))(x)
    with pytest.raises(ValueError, match="vmap_method must be on of the allowed methods"):
        spmd.pure_callback(np.sin, x, x, vmap_method="loop")
    with pytest.raises(ValueError, match="cannot specify 64-bit types when `jax_enable_x64` "
                                         "is disabled"):
        spmd.pure_callback(np.sin, like((3,), np.float64), x)
    with pytest.raises(TypeError, match="result_shape_dtypes must be a pytree of values with "
                                        r"\.shape and \.dtype"):
        spmd.pure_callback(np.sin, (3,), x)
    with pytest.raises(NotImplementedError, match=r"pure_callback\(sharding=\.\.\.\) is not "
                                                  "supported"):
        spmd.pure_callback(np.sin, x, x, sharding=spmd.devices()[0])


@pytest.mark.parametrize("jitted", [False, True])
@pytest.mark.parametrize("result,message", [
    (lambda v: v[:2], r"Incorrect output shape for return value #0: Expected \(3,\), got \(2,\)"),
    (lambda v: v.astype(np.int32), "Incorrect output dtype for return value #0: Expected "
                                   "float32, got int32"),
    (lambda v: (v, v), "Mismatched number of outputs from callback. Expected: 1, Actual: 2")])
def test_pure_callback_results_that_break_their_declared_types(jitted, result, message):
    f = lambda v: spmd.pure_callback(result, like((3,), np.float32), v)  # noqa: E731
    with pytest.raises(JaxRuntimeError if jitted else RuntimeError, match=message):
        spmd.block_until_ready((spmd.jit(f) if jitted else f)(np.ones(3, np.float32)))


# ---------------------------------------------------------------- debug.print / callback
def show(x):
    spmd.debug.print("x={x} total={t:.2f}", x=x, t=x.sum())
    return x * 2


def test_debug_print_eager_jit_grad(capsys):
    x = np.arange(3, dtype=np.float32)
    for run in (show, spmd.jit(show)):
        np.testing.assert_array_equal(np.asarray(run(x)), 2 * x)
    grads = spmd.grad(lambda v: show(v).sum())(x)  # printed once, on the primal values
    np.testing.assert_array_equal(np.asarray(grads), np.full(3, 2.0))
    spmd.block_until_ready(spmd.jit(spmd.grad(lambda v: spmd.jit(show)(v).sum()))(x))
    assert capsys.readouterr().out == "x=[0. 1. 2.] total=3.00\n" * 4


def test_debug_print_once_per_vmap_element_and_pmap_device(capsys):
    x = np.arange(3, dtype=np.float32)
    spmd.vmap(show)(x)
    assert capsys.readouterr().out.splitlines() == [f"x={v} total={v:.2f}" for v in x]
    spmd.block_until_ready(spmd.jit(spmd.vmap(show))(x))
    assert sorted(capsys.readouterr().out.splitlines()) == [f"x={v} total={v:.2f}" for v in x]
    spmd.block_until_ready(spmd.pmap(show)(np.arange(8, dtype=np.float32)))
    assert sorted(capsys.readouterr().out.splitlines()) == [f"x={v:.1f} total={v:.2f}"
                                                           for v in range(8)]


def test_debug_print_ordered_keeps_program_order_and_loops_print_each_step(capsys):
    @spmd.jit
    def f(x):
        for i in range(4):
            spmd.debug.print("step {} {}", i, x + i, ordered=True)
        return x
    spmd.block_until_ready(f(np.float32(1)))
    assert capsys.readouterr().out == "".join(f"step {i} {1.0 + i}\n" for i in range(4))
    spmd.block_until_ready(spmd.lax.fori_loop(
        0, 3, lambda i, c: (spmd.debug.print("i={}", i), c)[1], 0))
    assert capsys.readouterr().out == "i=0\ni=1\ni=2\n"


def test_debug_callback_gets_numpy_values_and_static_leaves():
    seen = []
    f = spmd.jit(lambda x: (spmd.debug.callback(lambda v, tag, n: seen.append((v, tag, n)),
                                                {"v": x}, "tag", n=3), x)[1])
    spmd.block_until_ready(f(jnp.arange(2)))
    ((value, tag, n),) = seen
    assert type(value["v"]) is np.ndarray and value["v"].tolist() == [0, 1]
    assert (tag, n) == ("tag", 3)


def test_debug_errors():
    with pytest.raises(IndexError, match="Replacement index 1 out of range"):
        spmd.debug.print("{} {}", 1.0)
    with pytest.raises(KeyError, match="'y'"):
        spmd.jit(lambda x: spmd.debug.print("{y}", x=x))(1.0)
    with pytest.raises(TypeError, match="debug.print expects a format string first"):
        spmd.debug.print(1.0)
    with pytest.raises(TypeError, match="debug.callback expected a callable"):
        spmd.debug.callback("print", 1.0)
