"""lax.ragged_dot and lax.ragged_dot_general in their three modes: values against NumPy loops
over the groups (every dtype family), derivatives against finite differences, vmap against the
unbatched function, and the misuses."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped
from tests.transforms.random_operands import draw

rng = np.random.default_rng(0)
GROUPS = np.array([2, 0, 3], np.int32)  # an empty group, and one row past the last group
BATCHED_NONCONTRACTING = lax.RaggedDotDimensionNumbers((((2,), (2,)), ((0,), (1,))), (1,), (0,))
CONTRACTING = lax.RaggedDotDimensionNumbers((((1,), (0,)), ((), ())), (1,), ())
BATCH = lax.RaggedDotDimensionNumbers((((2,), (1,)), ((0,), (0,))), (0,), ())


def _draw(shape, dtype=np.float32):
    return draw(rng, shape, dtype)


def _starts(group_sizes):
    ends = np.cumsum(group_sizes)
    return zip(ends - group_sizes, ends)


def ragged_dot_reference(lhs, rhs, group_sizes):
    """Rows of group i times rhs[i]; rows past the last group stay zero."""
    out = np.zeros((lhs.shape[0], rhs.shape[2]), np.result_type(lhs, rhs))
    for i, (start, end) in enumerate(_starts(group_sizes)):
        out[start:end] = lhs[start:end] @ rhs[i]
    return out


def contracting_reference(lhs, rhs, group_sizes):
    """One partial product per group of the contracting dimension."""
    return np.stack([lhs[:, s:e] @ rhs[s:e] for s, e in _starts(group_sizes)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, dtypes.bfloat16, np.int32,
                                   np.complex64])
def test_ragged_dot_matches_the_loop_over_groups(dtype, x64):
    lhs, rhs = _draw((6, 4), dtype), _draw((3, 4, 2), dtype)
    got = lax.ragged_dot(lhs, rhs, GROUPS)
    want = ragged_dot_reference(lhs.astype(np.float64) if dtype == dtypes.bfloat16 else lhs,
                                rhs.astype(np.float64) if dtype == dtypes.bfloat16 else rhs,
                                GROUPS)
    assert got.dtype == np.dtype(dtype)
    assert_close(got, want.astype(dtype), rtol=0.05 if dtype == dtypes.bfloat16 else None)
    assert_close(spmd.jit(lax.ragged_dot)(lhs, rhs, GROUPS), got)


def test_preferred_element_type_and_precision():
    lhs, rhs = _draw((6, 4), dtypes.bfloat16), _draw((3, 4, 2), dtypes.bfloat16)
    got = lax.ragged_dot(lhs, rhs, GROUPS, precision=lax.Precision.HIGHEST,
                         preferred_element_type=np.float32)
    assert got.dtype == np.float32
    want = ragged_dot_reference(lhs.astype(np.float32), rhs.astype(np.float32), GROUPS)
    assert_close(got, want, rtol=1e-5)


def test_gradients_with_a_wider_preferred_element_type():
    """The cotangent is float32, the operands bfloat16: the transposes (of dot_general too)
    compute in float32 and give bfloat16 gradients."""
    lhs, rhs = _draw((6, 4), dtypes.bfloat16), _draw((3, 4, 2), dtypes.bfloat16)
    wide = lambda x: np.asarray(x, np.float32)  # noqa: E731
    ragged = spmd.grad(lambda a, b: lax.ragged_dot(a, b, GROUPS, preferred_element_type=np.float32
                                                   ).sum(), argnums=(0, 1))(lhs, rhs)
    rows = np.repeat(np.arange(3), GROUPS)  # each row's group; the sixth row is in none
    want_lhs = np.zeros((6, 4), np.float32)
    want_lhs[:5] = wide(rhs).sum(2)[rows]
    want_rhs = np.stack([wide(lhs)[:5][rows == g].sum(0)[:, None].repeat(2, 1) for g in range(3)])
    for got, want in zip(ragged, (want_lhs, want_rhs)):
        assert got.dtype == dtypes.bfloat16
        assert_close(wide(got), want, rtol=0.02, atol=0.05)
    dense = spmd.grad(lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ())),
                                                   preferred_element_type=np.float32).sum(),
                      argnums=(0, 1))(lhs, rhs[0])
    assert [g.dtype for g in dense] == [dtypes.bfloat16] * 2
    assert_close(wide(dense[0]), np.ones((6, 2), np.float32) @ wide(rhs[0]).T, rtol=0.02,
                 atol=0.05)
    assert_close(wide(dense[1]), wide(lhs).T @ np.ones((6, 2), np.float32), rtol=0.02,
                 atol=0.05)


def test_noncontracting_mode_with_batch_dimension_and_groups_per_batch():
    lhs, rhs = _draw((2, 5, 3), np.float32), _draw((3, 2, 3, 4), np.float32)
    group_sizes = np.array([[1, 2, 2], [0, 4, 0]], np.int32)
    got = lax.ragged_dot_general(lhs, rhs, group_sizes, BATCHED_NONCONTRACTING)
    want = np.stack([ragged_dot_reference(lhs[b], rhs[:, b], group_sizes[b]) for b in range(2)])
    assert_close(got, want)
    # a (g,) group_sizes is the same for every batch element
    assert_close(lax.ragged_dot_general(lhs, rhs, group_sizes[1], BATCHED_NONCONTRACTING),
                 np.stack([ragged_dot_reference(lhs[b], rhs[:, b], group_sizes[1])
                           for b in range(2)]))


def test_contracting_mode_gives_one_product_per_group():
    lhs, rhs = _draw((2, 6), np.float32), _draw((6, 3), np.float32)
    got = lax.ragged_dot_general(lhs, rhs, GROUPS, CONTRACTING)
    assert got.shape == (3, 2, 3)
    assert_close(got, contracting_reference(lhs, rhs, GROUPS))


def test_batch_mode_is_the_batched_product():
    lhs, rhs = _draw((4, 2, 3), np.float32), _draw((4, 3, 5), np.float32)
    got = lax.ragged_dot_general(lhs, rhs, np.array([1, 3], np.int32), BATCH)
    assert_close(got, lhs @ rhs)


def test_gradients_match_finite_differences(x64):
    lhs, rhs = _draw((6, 4), np.float64), _draw((3, 4, 2), np.float64)
    check_grads(lambda a, b: lax.ragged_dot(a, b, GROUPS), (lhs, rhs), order=1)
    lhs, rhs = _draw((2, 5, 3), np.float64), _draw((3, 2, 3, 4), np.float64)
    group_sizes = np.array([[1, 2, 2], [0, 4, 0]], np.int32)
    check_grads(lambda a, b: lax.ragged_dot_general(a, b, group_sizes, BATCHED_NONCONTRACTING),
                (lhs, rhs), order=1)


def test_contracting_mode_has_forward_mode_only_as_in_jax(x64):
    lhs, rhs = _draw((2, 6), np.float64), _draw((6, 3), np.float64)
    f = lambda a, b: lax.ragged_dot_general(a, b, GROUPS, CONTRACTING)  # noqa: E731
    check_grads(f, (lhs, rhs), order=1, modes=("fwd",))
    with pytest.raises(NotImplementedError, match="only for a non-contracting ragged dimension"):
        spmd.grad(lambda a: f(a, rhs).sum())(lhs)


def test_vmap_matches_the_unbatched_function():
    lhs, rhs = _draw((2, 6, 4), np.float32), _draw((2, 3, 4, 2), np.float32)
    group_sizes = np.array([[2, 0, 3], [6, 0, 0]], np.int32)
    check_mapped(spmd.vmap(lax.ragged_dot), lax.ragged_dot, (lhs, rhs, group_sizes))
    only_lhs = lambda a: lax.ragged_dot(a, rhs[0], GROUPS)  # noqa: E731
    check_mapped(spmd.vmap(only_lhs, in_axes=1), only_lhs, (lhs.swapaxes(0, 1),), in_axes=1)
    only_groups = spmd.vmap(lambda g: lax.ragged_dot(lhs[0], rhs[0], g))
    check_mapped(only_groups, lambda g: lax.ragged_dot(lhs[0], rhs[0], g), (group_sizes,))
    one = lambda a: lax.ragged_dot_general(a, rhs[0, 0], GROUPS[:2], CONTRACTING)  # noqa: E731
    check_mapped(spmd.vmap(one), one, (_draw((2, 2, 4), np.float32),))


@pytest.mark.parametrize("call, exc, match", [
    (lambda l, r: lax.ragged_dot(l, r, GROUPS.astype(np.float32)), TypeError,
     "group_sizes must have an integer dtype"),
    (lambda l, r: lax.ragged_dot(l, r, np.int32(3)), TypeError, "group_sizes must have rank"),
    (lambda l, r: lax.ragged_dot(l, r, np.array([3, 3], np.int32)), TypeError,
     r"rhs group dimension has size 3, but group_sizes counts 2 groups"),
    (lambda l, r: lax.ragged_dot_general(l, r, np.ones((2, 3), np.int32),
                                         lax.RaggedDotDimensionNumbers(
                                             (((1,), (1,)), ((), ())), (0,), (0,))),
     TypeError, r"expected group_sizes of shape \(3,\)"),
    (lambda l, r: lax.ragged_dot_general(l, r, GROUPS, lax.RaggedDotDimensionNumbers(
        (((1,), (1,)), ((), ())), (0, 1), (0,))), TypeError, "exactly one lhs ragged dimension"),
    (lambda l, r: lax.ragged_dot_general(l, r, GROUPS, lax.RaggedDotDimensionNumbers(
        (((1,), (1,)), ((), ())), (0,), ())), TypeError, "exactly one rhs group dimension"),
    (lambda l, r: lax.ragged_dot_general(l, r, GROUPS, lax.RaggedDotDimensionNumbers(
        (((1,), (1,)), ((), ())), (0,), (1,))), TypeError,
     "group dimension must differ from the contracting"),
    (lambda l, r: lax.ragged_dot_general(l, r, GROUPS, lax.RaggedDotDimensionNumbers(
        (((1,), (1,)), ((), ())), (5,), (0,))), TypeError, "must be a dimension of lhs"),
    (lambda l, r: lax.ragged_dot_general(l, r[0], GROUPS, lax.RaggedDotDimensionNumbers(
        (((1,), (0,)), ((), ())), (1,), (0,))), TypeError, "zero group dimensions in the rhs"),
    (lambda l, r: lax.ragged_dot_general(l, r, GROUPS, (((1,), (1,)), ((), ()))), TypeError,
     "must be a lax.RaggedDotDimensionNumbers"),
    (lambda l, r: lax.ragged_dot(l, r, GROUPS, group_offset=np.zeros(1, np.int32)),
     NotImplementedError, "group_offset is not supported"),
])
def test_misuses_say_what_is_wrong(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_draw((6, 4), np.float32), _draw((3, 4, 2), np.float32))
