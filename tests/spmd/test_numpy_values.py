"""spmd.numpy against NumPy: every function of the table (tests/spmd/numpy_cases.py) for each
of its dtypes (float32, int32, bool, and float64 under x64), values and result dtypes; then
NumPy's broadcasting and JAX's promotion with weak Python scalars."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close
from tests.spmd.numpy_cases import DTYPES, case_dtypes, cases, expected_dtype
from spmd.transforms import tree_util


def _leaves(tree):
    return tree_util.tree_leaves(tree, is_leaf=lambda x: isinstance(x, np.ndarray))


def check_against_numpy(case, dtype):
    args = case.draw(DTYPES[dtype])
    fn = spmd.jit(case.fn) if case.traceable else case.fn
    got, want = _leaves(fn(*args)), _leaves(case.expected(args))
    assert len(got) == len(want), f"{len(got)} outputs, NumPy gives {len(want)}"
    for g, w in zip(got, want):
        if case.check_dtype:
            assert np.asarray(g).dtype == expected_dtype(w), (np.asarray(g).dtype, w.dtype)
        assert_close(g, w.astype(np.asarray(g).dtype), check_dtype=False)


@pytest.mark.parametrize("case, dtype", case_dtypes())
def test_matches_numpy(case, dtype):
    check_against_numpy(case, dtype)


@pytest.mark.parametrize("case", cases(lambda c: "float32" in c.dtypes and c.wide))
def test_matches_numpy_in_64_bits(case, x64):
    check_against_numpy(case, "float64")


# ---------------------------------------------------------------- promotion and broadcasting
PROMOTIONS = [  # (x, y, dtype of x + y): JAX's lattice, Python scalars are weak
    (np.ones(3, np.float16), 2.0, np.float16),
    (np.ones(3, np.int32), 1.5, np.float32),
    (np.ones(3, np.uint8), np.ones(3, np.int8), np.int16),
    (np.ones(3, np.bool_), np.ones(3, np.bool_), np.bool_),
    (np.ones(3, np.int8), 3, np.int8),
    (np.ones(3, np.uint8), np.ones(3, np.float16), np.float16),
    (np.ones(3, np.int32), np.ones(3, np.float32), np.float32),
    (np.ones(3, np.bool_), 1, np.int32),
    (np.ones(3, np.float32), 1j, np.complex64),
    (np.ones(3, np.int16), np.ones(3, np.uint16), np.int32),
]


def _name(v):
    return type(v).__name__ if isinstance(v, (int, float, complex)) else str(np.asarray(v).dtype)


@pytest.mark.parametrize("x, y, dtype", PROMOTIONS, ids=[f"{_name(x)}+{_name(y)}"
                                                         for x, y, _ in PROMOTIONS])
def test_promotion(x, y, dtype):
    out = jnp.asarray(x) + y
    assert out.dtype == np.dtype(dtype)
    assert_close(out, (np.asarray(x) + np.asarray(y)).astype(dtype))
    assert (y + jnp.asarray(x)).dtype == np.dtype(dtype)


def test_weak_scalars_stay_weak_and_yield():
    assert (jnp.ones(3, jnp.float16) * 2.0).dtype == np.float16
    w = jnp.asarray(2.0) * 3  # a weak float32 times a weak int: weak float
    assert w.weak_type and w.dtype == np.float32
    assert (jnp.ones(2, jnp.bfloat16) * w).dtype == jnp.bfloat16
    assert jnp.sum(jnp.ones(3, jnp.int8)).dtype == np.int32  # JAX: accumulates in int32
    assert jnp.sum(jnp.ones(3, jnp.uint8)).dtype == np.uint32
    assert jnp.mean(jnp.ones(3, jnp.float16)).dtype == np.float16


def test_broadcasting_of_a_jnp_function():
    a, b = np.arange(6.0).reshape(2, 1, 3), np.arange(4.0).reshape(4, 1)
    assert_close(jnp.add(a, b), (a + b).astype(np.float32))
    assert_close(jnp.where(a > 2, a, b), np.where(a > 2, a, b).astype(np.float32))


def test_methods_on_arrays_and_tracers():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)

    def f(a):
        return (a.sum(0), a.mean(axis=1), a.reshape(2, 6), a.reshape((4, 3)).T, a.astype(
            jnp.int32), a.max(), a.argmin(1), a.cumsum(1), a.ravel(), a.flatten(), a.swapaxes(
            0, 1), a.clip(2, 5), a.round(), a.transpose(1, 0), a.squeeze(),
            a.take(np.array([0, 5])), a.std(), a.var(1), a.prod(1), a.all(), a.any(0), a.sort(0),
            a.argsort(1), a.diagonal(), a.trace(), a.dot(a.T), a[1:, ::2], a.at[0].add(1.0), a.mT,
            a.real, a @ a.T, -a, abs(a), a ** 2, 2 ** a, a // 3, a % 3, divmod(a, 3)[0], a > 2)
    expected = (x.sum(0), x.mean(1), x.reshape(2, 6), x.reshape(4, 3).T, x.astype(np.int32),
                x.max(), x.argmin(1), x.cumsum(1), x.ravel(), x.flatten(), x.swapaxes(0, 1),
                x.clip(2, 5), x.round(), x.T, x, np.take(x, [0, 5]), x.std(), x.var(1),
                x.prod(1), x.all(), x.any(0), np.sort(x, 0), np.argsort(x, 1), x.diagonal(),
                x.trace(), x @ x.T, x[1:, ::2], x + np.array([[1.0]] + [[0.0]] * 2, np.float32),
                x.T, x, x @ x.T, -x, abs(x), x ** 2, 2 ** x, x // 3, x % 3, x // 3, x > 2)
    for g, e in zip(spmd.jit(f)(x), expected):  # methods on tracers
        assert_close(g, np.asarray(e).astype(np.asarray(g).dtype), check_dtype=False)
    a = jnp.asarray(x)  # and on arrays
    assert_close(a.var(1), x.var(1))
    assert_close(a.at[1, 2].set(-1.0), np.where(np.arange(12).reshape(3, 4) == 6, -1.0, x))
    assert_close(a.T[::-1], x.T[::-1])


def test_creation_functions():
    assert_close(jnp.arange(2, 11, 3), np.arange(2, 11, 3).astype(np.int32))
    assert_close(jnp.linspace(0.0, 1.0, 5), np.linspace(0, 1, 5).astype(np.float32))
    assert_close(jnp.linspace(0.0, 1.0, 4, endpoint=False),
                 np.linspace(0, 1, 4, endpoint=False).astype(np.float32))
    assert_close(jnp.eye(3, 4, k=1, dtype=jnp.int32), np.eye(3, 4, k=1, dtype=np.int32))
    assert_close(jnp.full((2, 3), 7, jnp.int8), np.full((2, 3), 7, np.int8))
    assert_close(jnp.zeros_like(np.ones((2, 2), np.int32)), np.zeros((2, 2), np.int32))
    assert_close(jnp.indices((2, 3)), np.indices((2, 3)).astype(np.int32))
    assert_close(jnp.tri(3, k=-1), np.tri(3, k=-1).astype(np.float32))
    assert jnp.ones(3).dtype == np.float32 and jnp.array([1, 2]).dtype == np.int32
    assert_close(jnp.array(np.ones((2,)), ndmin=3), np.ones((1, 1, 2), np.float32))
    assert_close(jnp.astype(np.array([1.7, -1.2]), jnp.int32), np.array([1, -1], np.int32))


def test_shape_queries():
    x = jnp.ones((2, 3))
    assert jnp.shape(x) == (2, 3) and jnp.ndim(x) == 2 and jnp.size(x) == 6
    assert jnp.size(x, 1) == 3 and jnp.shape([[1, 2, 3]]) == (1, 3)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, "bfloat16", np.int32, np.bool_])
def test_signbit_reads_the_sign_bit(dtype):
    """-0.0 and negative NaNs have their sign bit set (NumPy's signbit), not only x < 0."""
    values = [-0.0, 0.0, -1.0, np.nan, -np.nan, 2.0] if dtype not in (np.int32, np.bool_) \
        else [-3, 0, 2, 1]
    host = np.array(values, np.float32).astype(jnp.dtype(dtype)) if dtype != np.bool_ \
        else np.array(values, bool)
    np.testing.assert_array_equal(np.asarray(jnp.signbit(jnp.asarray(host))),
                                  np.signbit(host.astype(np.float32)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, "bfloat16"])
def test_ldexp_is_exact(dtype):
    """x * 2**e is a power-of-two scaling: exact (NumPy's ldexp) down to the subnormals, with
    overflow to inf and underflow to 0 for exponents far beyond the range."""
    dt = jnp.dtype(dtype)
    x = np.array([1.0, 1.5, -3.0, 0.0, np.inf, 1e-3, 7.0, -0.0], np.float32).astype(dt)
    for e in ([0, 1, -1, 5, 3, -7, 10, 2], [10, -10, 12, -12, 1, 9, -9, 3],
              [300, -300, 2, 3, 4, -5, 6, -400]):
        e = np.array(e, np.int32)
        with np.errstate(over="ignore"):
            want = np.ldexp(x.astype(np.float64), e).astype(dt)
        got = np.asarray(jnp.ldexp(jnp.asarray(x), jnp.asarray(e)))
        np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))
