"""spmd.lax.reduce (a Python computation on pytrees), reduce_xor and associative_scan, against
NumPy reductions and loops, with grad and vmap against finite differences and per-example
results."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax

RNG = np.random.default_rng(1)
X = RNG.standard_normal((3, 5, 2)).astype(np.float32)


@pytest.mark.parametrize("dims", [(1,), (0, 2), ()])
def test_reduce_with_add_max_mul_matches_numpy(dims):
    """lax's own add/max/mul reduce with their primitives; any other function (a lambda) with
    the general tree of combines."""
    np.testing.assert_allclose(lax.reduce(X, np.float32(0), lambda a, b: a + b, dims),
                               X.sum(dims), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lax.reduce(X, np.float32(0), lax.add, dims), X.sum(dims),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(lax.reduce(X, np.float32(-np.inf), lax.max, dims),
                                  X.max(dims) if dims else X)
    ints = RNG.integers(1, 4, size=(3, 5, 2)).astype(np.int32)
    np.testing.assert_array_equal(lax.reduce(ints, np.int32(1), lax.mul, dims), ints.prod(dims))


def test_reduce_starts_from_init_values_and_on_empty_axes():
    np.testing.assert_allclose(lax.reduce(X, np.float32(10), lax.add, (1,)), X.sum(1) + 10,
                               rtol=1e-5)
    empty = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(lax.reduce(empty, np.float32(7), lax.add, (0,)), [7, 7, 7])


def test_reduce_on_a_pytree_is_a_variadic_reduce():
    """argmax as (value, index) pairs: the pytree form JAX programs use."""
    values = X[:, 0, 0]
    index = np.arange(3, dtype=np.int32)

    def pick(a, b):
        take_b = lax.gt(b[0], a[0])
        return lax.select(take_b, b[0], a[0]), lax.select(take_b, b[1], a[1])
    best, at = lax.reduce((values, index), (np.float32(-np.inf), np.int32(-1)), pick, (0,))
    assert best == values.max() and at == values.argmax()


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_reduce_xor_matches_numpy(dtype):
    x = RNG.integers(0, 2 if dtype is np.bool_ else 200, size=(4, 3)).astype(dtype)
    np.testing.assert_array_equal(lax.reduce_xor(x, (0,)), np.bitwise_xor.reduce(x, 0))
    np.testing.assert_array_equal(lax.reduce_xor(x, (0, 1)), np.bitwise_xor.reduce(x.ravel()))


def test_reduce_grad_and_vmap():
    f = lambda x: lax.reduce(x, np.float32(0), lambda a, b: a + b, (1,)).prod()  # noqa: E731
    x = X[:, :, 0]
    eps, e = 1e-3, np.zeros_like(x)
    e[1, 3] = 1
    fd = (f(x + eps * e) - f(x - eps * e)) / (2 * eps)
    np.testing.assert_allclose(spmd.jit(spmd.grad(f))(x)[1, 3], fd, rtol=1e-2)
    np.testing.assert_allclose(spmd.jit(spmd.vmap(f))(X.transpose(2, 0, 1)),
                               [f(X[:, :, 0]), f(X[:, :, 1])], rtol=1e-5)
    np.testing.assert_allclose(spmd.jit(f)(x), f(x), rtol=1e-6)


def _prefix(fn, xs):
    out = [xs[0]]
    for v in xs[1:]:
        out.append(fn(out[-1], v))
    return np.stack(out)


@pytest.mark.parametrize("n", [1, 2, 7, 8])
def test_associative_scan_matches_a_loop(n):
    x = RNG.standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x), np.cumsum(x), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x, reverse=True),
                               np.cumsum(x[::-1])[::-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(lax.associative_scan(lax.max, x), np.maximum.accumulate(x))


def test_associative_scan_on_a_pytree_along_an_axis_in_order():
    """A non-commutative operator (2x2 matrix products) shows the order: fn(earlier, later)."""
    mats = RNG.standard_normal((4, 2, 2)).astype(np.float32)
    out = lax.associative_scan(jnp.matmul, mats)
    np.testing.assert_allclose(out, _prefix(np.matmul, mats), rtol=1e-4, atol=1e-5)
    # reversed, as JAX documents it: [..., f(f(z, y), x), f(z, y), z]
    rev = lax.associative_scan(jnp.matmul, mats, reverse=True)
    np.testing.assert_allclose(rev, _prefix(np.matmul, mats[::-1])[::-1], rtol=1e-4, atol=1e-5)
    tree = {"a": X, "b": X.astype(np.int32)}
    out = lax.associative_scan(lambda p, q: {"a": p["a"] + q["a"], "b": p["b"] * 0 + q["b"]},
                               tree, axis=1)
    np.testing.assert_allclose(out["a"], np.cumsum(X, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out["b"], X.astype(np.int32))


def test_associative_scan_grad_and_vmap():
    f = lambda x: (lax.associative_scan(lax.mul, x) ** 2).sum()  # noqa: E731
    x = X[:, 0, 0]
    eps, e = 1e-3, np.zeros_like(x)
    e[1] = 1
    fd = (f(x + eps * e) - f(x - eps * e)) / (2 * eps)
    np.testing.assert_allclose(spmd.jit(spmd.grad(f))(x)[1], fd, rtol=1e-2)
    np.testing.assert_allclose(spmd.jit(spmd.vmap(f))(X[:, :, 0].T), [f(v) for v in X[:, :, 0].T],
                               rtol=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: lax.reduce((X, X), np.float32(0), lax.add, (0,)), ValueError, "same structure"),
    (lambda: lax.reduce((X, X[0]), (np.float32(0),) * 2, lambda a, b: a, (0,)), ValueError,
     "one shape"),
    (lambda: lax.reduce(X, np.float32(0), lax.add, (0, 0)), ValueError, "repeat an axis"),
    (lambda: lax.reduce(X, np.float32(0), lambda a, b: a, (1, -2)), ValueError,
     "repeat an axis"),
    (lambda: lax.reduce(X, np.float32(0), lambda a, b: (a, b), (0,)), TypeError,
     "must return the structure of its inputs"),
    (lambda: lax.reduce_xor(X, (0,)), TypeError, "integer or boolean operand"),
    (lambda: lax.associative_scan(None, X), TypeError, "fn argument should be callable"),
    (lambda: lax.associative_scan(lax.add, (X, X[:2])), ValueError, "same length along axis"),
    (lambda: lax.associative_scan(lax.add, ()), ValueError, "at least one array"),
])
def test_errors_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()
