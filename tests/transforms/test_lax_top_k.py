"""lax.top_k along any axis, and lax.approx_max_k / approx_min_k (exact on CPU, as JAX's
fallback): values and indices against NumPy's stable sort for every dtype and dimension, the
output size of aggregate_to_topk=False, derivatives against finite differences, vmap, and the
misuses. (lax_cases.py runs top_k along the last axis through eager, jit, grad and vmap.)"""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped

rng = np.random.default_rng(0)


def _reference(x, k, dim, largest):
    """The k best along `dim` in order, equal values by index: a stable NumPy sort."""
    order = np.argsort(-x if largest else x, axis=dim, kind="stable")
    index = np.take(order, np.arange(k), axis=dim)
    return np.take_along_axis(x, index, axis=dim), index.astype(np.int32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, dtypes.bfloat16])
@pytest.mark.parametrize("largest", [True, False])
def test_values_and_indices_match_a_stable_sort(dtype, largest, x64):
    x = rng.integers(-4, 5, (3, 7)).astype(dtype)  # small integers: ties in every row
    op = lax.approx_max_k if largest else lax.approx_min_k
    for dim in (-1, 0):
        k = 2
        values, index = op(x, k, reduction_dimension=dim)
        want_values, want_index = _reference(x.astype(np.float64), k, dim, largest)
        assert values.dtype == np.dtype(dtype) and index.dtype == np.int32
        np.testing.assert_array_equal(np.asarray(index), want_index)
        assert_close(values, want_values.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, dtypes.bfloat16])
def test_top_k_along_any_axis(dtype):
    x = rng.integers(0, 6, (4, 5, 3)).astype(dtype)
    for axis in (0, 1, -1):
        values, index = lax.top_k(x, 2, axis=axis)
        want_values, want_index = _reference(x.astype(np.float64), 2, axis, True)
        assert values.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(index), want_index)
        np.testing.assert_array_equal(np.asarray(values).astype(np.float64), want_values)


def test_top_k_transforms_along_a_middle_axis(x64):
    x = rng.permutation(60).reshape(3, 5, 4).astype(np.float64)
    check_grads(lambda v: lax.top_k(v, 2, axis=1)[0], (x,), order=1)
    f = lambda v: lax.top_k(v, 3, axis=0)  # noqa: E731
    check_mapped(spmd.vmap(f, in_axes=1), f, (x,), in_axes=1)
    jaxpr = spmd.make_jaxpr(f)(x)
    assert [e.prim for e in jaxpr.jaxpr.eqns] == [lax.top_k_p]
    assert jaxpr.jaxpr.eqns[0].params == {"k": 3, "axis": 0}


def test_jit_and_nans_count_largest():
    x = np.array([1.0, np.nan, 3.0, 2.0], np.float32)
    values, index = spmd.jit(lambda v: lax.approx_max_k(v, 2))(x)
    np.testing.assert_array_equal(np.asarray(index), [1, 2])
    assert np.isnan(np.asarray(values)[0])
    np.testing.assert_array_equal(np.asarray(lax.approx_min_k(x, 2)[1]), [0, 3])


def test_unaggregated_output_keeps_xlas_candidate_count_sorted():
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    values, index = lax.approx_max_k(x, 5, aggregate_to_topk=False)
    # XLA's reduction output size (ApproxTopKReductionOutputSize) for 3000 inputs of rank 2,
    # k=5, recall 0.95: the 24 lane tiles of 128 reduced 2**4-fold, ceil(24 / 16) * 128
    assert values.shape == (2, 256) and index.shape == (2, 256)
    want_values, want_index = _reference(x, 256, 1, True)
    np.testing.assert_array_equal(np.asarray(index), want_index)
    assert_close(values, want_values)
    # inputs within one tile keep everything
    assert lax.approx_max_k(x[:, :100], 5, aggregate_to_topk=False)[0].shape == (2, 100)


def test_gradients_match_finite_differences(x64):
    x = rng.permutation(24).reshape(4, 6).astype(np.float64)  # distinct values: no ties
    check_grads(lambda v: lax.approx_max_k(v, 3)[0], (x,), order=2)
    check_grads(lambda v: lax.approx_min_k(v, 2, reduction_dimension=0)[0], (x,), order=1)


def test_vmap_matches_the_unbatched_function():
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    for dim in (0, -1):
        f = lambda v, dim=dim: lax.approx_max_k(v, 2, reduction_dimension=dim)  # noqa: E731
        check_mapped(spmd.vmap(f, in_axes=1), f, (x,), in_axes=1)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: lax.approx_max_k(np.ones(4, np.int32), 2), ValueError, "floating dtype, got int32"),
    (lambda: lax.approx_max_k(np.ones(4, np.float32), 0), ValueError, "k must be positive"),
    (lambda: lax.approx_max_k(np.ones(4, np.float32), 5), ValueError, "k=5 is larger than"),
    (lambda: lax.approx_min_k(np.float32(1), 1), TypeError, "rank >= 1"),
    (lambda: lax.approx_min_k(np.ones((2, 2), np.float32), 1, reduction_dimension=2),
     ValueError, "reduction_dimension 2 is out of range"),
    (lambda: lax.approx_max_k(np.ones(3000, np.float32), 1, aggregate_to_topk=False,
                              reduction_input_size_override=10), ValueError,
     "reduction_input_size_override: 10 should be greater equals to"),
    (lambda: lax.approx_max_k(np.ones((1, 5000), np.float32), 10, recall_target=0.0,
                              aggregate_to_topk=False), ValueError,
     r"recall_target should range in \(0,1\]"),
    (lambda: lax.top_k(np.ones(3, np.complex64), 1), ValueError,
     "top_k is not compatible with complex inputs"),
    (lambda: lax.top_k(np.ones((2, 3), np.float32), 3, axis=0), ValueError,
     r"k=3 must be between 0 and the size of axis 0 \(2\)"),
    (lambda: lax.top_k(np.ones((2, 3), np.float32), 1, axis=2), ValueError, "axis 2"),
])
def test_misuses_say_what_is_wrong(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
