"""spmd.lax's functions JAX declares as primitives of their own (stack, split, tile, select_n,
index_take, scatter_sub, round's rounding_method ...), against NumPy, with their errors and
their transforms (jit, vmap, grad) against the unjitted result and finite differences."""
import numpy as np
import pytest

import spmd
from spmd import lax

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3)).astype(np.float32)
DTYPES = [np.float32, np.int32, np.bool_, np.complex64]


def _of(dtype, shape=(2, 3)):
    values = RNG.integers(-3, 4, size=shape)
    return (values > 0 if dtype is np.bool_ else values.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, -1])
def test_stack_unstack_split_agree_with_numpy(dtype, axis):
    a, b = _of(dtype), _of(dtype)
    out = lax.stack([a, b], axis)
    np.testing.assert_array_equal(out, np.stack([a, b], axis))
    assert out.dtype == a.dtype
    pieces = lax.unstack(a, axis)
    assert isinstance(pieces, tuple)
    for got, want in zip(pieces, np.moveaxis(a, axis, 0)):
        np.testing.assert_array_equal(got, want)
    n = a.shape[axis]
    for got, want in zip(lax.split(a, [1, n - 1], axis), np.split(a, [1], axis)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_collapse_broadcast_to_rank_agree_with_numpy(dtype):
    a = _of(dtype)
    np.testing.assert_array_equal(lax.tile(a, (2, 3)), np.tile(a, (2, 3)))
    np.testing.assert_array_equal(lax.tile(a, (1, 0)), np.tile(a, (1, 0)))
    c = _of(dtype, (2, 3, 4))
    assert lax.collapse(c, 1).shape == (2, 12)
    np.testing.assert_array_equal(lax.collapse(c, 0, 2), c.reshape(6, 4))
    np.testing.assert_array_equal(lax.broadcast_to_rank(a, 4), a[None, None])
    assert lax.broadcast_to_rank(a, 2).shape == (2, 3)


def test_broadcast_shapes_is_numpys():
    for shapes in [((2, 1), (3,)), ((1,), (4, 1, 5), ()), ((0, 1), (1, 3))]:
        assert lax.broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_like_keeps_shape_dtype_and_weak_type(dtype):
    a = _of(dtype)
    out = lax.full_like(a, 1)
    np.testing.assert_array_equal(out, np.full_like(a, 1))
    assert out.dtype == a.dtype
    assert lax.full_like(a, 2, np.float32, (4,)).dtype == np.float32
    assert lax.full_like(a, 2, shape=(4,)).shape == (4,)
    assert spmd.typeof(lax.full_like(1.0, 2)).weak_type
    assert not spmd.typeof(lax.full_like(np.float32(1), 2)).weak_type


@pytest.mark.parametrize("dtype", DTYPES)
def test_select_n_picks_the_case_which_names(dtype):
    cases = [_of(dtype) for _ in range(3)]
    which = RNG.integers(0, 3, size=(2, 3)).astype(np.int32)
    want = np.choose(which, cases)
    np.testing.assert_array_equal(lax.select_n(which, *cases), want)
    pred = RNG.random((2, 3)) > 0.5
    np.testing.assert_array_equal(lax.select_n(pred, *cases[:2]), np.where(pred, cases[1],
                                                                          cases[0]))
    np.testing.assert_array_equal(lax.select_n(np.int32(2), *cases), cases[2])
    np.testing.assert_array_equal(lax.select_n(pred, cases[0]), cases[0])


def test_select_n_under_jit_vmap_and_grad():
    which = np.array([1, 0, 1], np.int32)
    x, y = X[0], X[1]
    np.testing.assert_array_equal(spmd.jit(lax.select_n)(which, x, y), np.where(which, y, x))
    np.testing.assert_array_equal(spmd.vmap(lax.select_n)(np.stack([which, 1 - which]), X, X),
                                  X)
    g = spmd.grad(lambda a: lax.select_n(which, a, 2 * a).sum())(x)
    np.testing.assert_array_equal(g, np.where(which, 2.0, 1.0))


def test_index_take_is_numpy_fancy_indexing_with_negative_indices():
    src = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    i, j = np.array([0, -1, 2]), np.array([3, 1, -4])
    np.testing.assert_array_equal(lax.index_take(src, (i, j), (0, 1)), src[i, j])
    np.testing.assert_array_equal(lax.index_take(src, (j,), (2,)), np.moveaxis(src[:, :, j],
                                                                              2, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
def test_scatter_sub_subtracts_at_repeated_indices(dtype):
    operand = np.arange(5).astype(dtype) + 10
    indices = np.array([[1], [3], [1]], np.int32)
    updates = np.array([1, 2, 3], dtype)
    dn = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    want = operand.copy()
    np.subtract.at(want, indices[:, 0], updates)
    np.testing.assert_array_equal(lax.scatter_sub(operand, indices, updates, dn), want)


DN1 = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                  scatter_dims_to_operand_dims=(0,))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_scatter_apply_applies_func_once_per_update(dtype):
    x = np.arange(5).astype(dtype)
    indices = np.array([[1], [3], [1]], np.int32)
    want = x.copy()
    for i in indices[:, 0]:
        want[i] = want[i] * 2 + 1
    apply = lambda v: lax.scatter_apply(v, indices, lambda e: e * 2 + 1, DN1,  # noqa: E731
                                        update_shape=(3,))
    np.testing.assert_array_equal(apply(x), want)
    np.testing.assert_array_equal(spmd.jit(apply)(x), want)


def test_scatter_apply_with_unique_indices_under_grad():
    x = np.linspace(0.1, 1, 5).astype(np.float32)
    idx = np.array([[4], [2]], np.int32)
    f = lambda v: lax.scatter_apply(v, idx, lax.sin, DN1, update_shape=(2,),  # noqa: E731
                                    unique_indices=True).sum()
    np.testing.assert_allclose(spmd.grad(f)(x), [1, 1, np.cos(x[2]), 1, np.cos(x[4])],
                               rtol=1e-6)


def test_round_rounding_methods_and_enum():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7], np.float32)
    np.testing.assert_array_equal(lax.round(x), np.sign(x) * np.floor(np.abs(x) + 0.5))
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), np.round(x))
    np.testing.assert_array_equal(lax.round(x, 1), np.round(x))
    assert lax.RoundingMethod.AWAY_FROM_ZERO == 0 and lax.RoundingMethod.TO_NEAREST_EVEN == 1


def test_dtype_canonicalizes_all_but_arrays():
    assert lax.dtype(1.0) == np.float32 and lax.dtype(1) == np.int32 and lax.dtype(True) == np.bool_
    assert lax.dtype(float) == np.float32 and lax.dtype("int64") == np.int32
    assert lax.dtype(np.zeros(2, np.float64)) == np.float32
    assert lax.dtype(spmd.numpy.zeros(2, np.int8)) == np.int8


def test_split_stack_tile_under_transforms_match_the_unjitted_result():
    def f(x):
        a, b = lax.split(x, [1, 2], 1)
        return (lax.stack([a[:, 0], b[:, 1]], 1) * lax.tile(x[:, :1], (1, 2))).sum()
    np.testing.assert_allclose(spmd.jit(f)(X), f(X), rtol=1e-6)
    np.testing.assert_allclose(spmd.jit(spmd.vmap(f))(np.stack([X, 2 * X])), [f(X), f(2 * X)],
                               rtol=1e-6)
    eps, e = 1e-3, np.zeros_like(X)
    e[1, 2] = 1
    fd = (f(X + eps * e) - f(X - eps * e)) / (2 * eps)
    np.testing.assert_allclose(spmd.jit(spmd.grad(f))(X)[1, 2], fd, rtol=1e-2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: lax.stack([]), ValueError, "at least one array"),
    (lambda: lax.stack([X, X[0]]), TypeError, "one shape"),
    (lambda: lax.stack([X], 3), ValueError, "out of bounds"),
    (lambda: lax.split(X, [1, 1], 1), ValueError, r"sum to the size 3 of axis 1"),
    (lambda: lax.tile(X, (2,)), ValueError, "one non-negative count per dimension"),
    (lambda: lax.broadcast_to_rank(X, 1), ValueError, "less than the rank 2"),
    (lambda: lax.broadcast_shapes(), TypeError, "At least one shape"),
    (lambda: lax.broadcast_shapes((2,), (3,)), ValueError, "Incompatible shapes"),
    (lambda: lax.collapse(X, 2, 1), ValueError, "comes before start_dimension"),
    (lambda: lax.select_n(np.int32(0)), ValueError, "at least one case"),
    (lambda: lax.select_n(np.int32(0), X, X[0]), TypeError, "same shape and dtype"),
    (lambda: lax.select_n(np.zeros(3, np.int32), X, X), TypeError, "scalar or have the cases"),
    (lambda: lax.select_n(np.float32(0), X, X), TypeError, "boolean or integer"),
    (lambda: lax.select_n(True, X, X, X), TypeError, "at most 2 cases"),
    (lambda: lax.index_take(X, (np.array([0]),), (0, 1)), ValueError, "1 index arrays for 2"),
    (lambda: lax.round(X, 5), ValueError, "5 is not a valid RoundingMethod"),
    (lambda: lax.dtype(None), ValueError, "Invalid argument to dtype"),
])
def test_errors_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()
