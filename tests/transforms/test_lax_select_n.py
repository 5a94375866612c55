"""lax.select_n, JAX's n-way select primitive: values against np.choose for boolean and integer
`which` (scalar or elementwise) and every dtype family, derivatives in the cases against finite
differences, vmap against the unbatched function, and the misuses."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped
from tests.transforms.random_operands import draw

rng = np.random.default_rng(0)
SHAPE = (2, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_, np.complex64,
                                   dtypes.bfloat16])
def test_select_n_is_np_choose(dtype):
    cases = [draw(rng, SHAPE, dtype) if dtype != np.bool_ else rng.random(SHAPE) < 0.5
             for _ in range(3)]
    which = rng.integers(0, 3, SHAPE).astype(np.int32)
    assert_close(lax.select_n(which, *cases), np.choose(which, cases))
    assert_close(lax.select_n(np.int32(2), *cases), cases[2])
    pred = rng.random(SHAPE) < 0.5
    assert_close(lax.select_n(pred, *cases[:2]), np.where(pred, cases[1], cases[0]))
    assert_close(spmd.jit(lax.select_n)(which, *cases), np.choose(which, cases))
    assert lax.select_n(pred, cases[0]) is cases[0]


def test_derivatives_in_the_cases_match_finite_differences(x64):
    which = rng.integers(0, 3, SHAPE).astype(np.uint8)
    cases = tuple(rng.standard_normal(SHAPE) for _ in range(3))
    check_grads(lambda *cs: lax.select_n(which, *cs), cases, order=2)
    grads = spmd.grad(lambda *cs: lax.select_n(which, *cs).sum(), argnums=(0, 1, 2))(*cases)
    for i, g in enumerate(grads):  # each element's cotangent goes to the case it came from
        np.testing.assert_array_equal(np.asarray(g), (which == i).astype(np.float64))


def test_vmap_matches_the_unbatched_function():
    cases = [rng.standard_normal((3,) + SHAPE).astype(np.float32) for _ in range(3)]
    which = rng.integers(0, 3, (3,) + SHAPE).astype(np.int32)
    check_mapped(spmd.vmap(lax.select_n), lax.select_n, (which, *cases))
    scalar_which = np.int32([0, 2, 1])  # one case per example
    check_mapped(spmd.vmap(lax.select_n), lax.select_n, (scalar_which, *cases))
    only_which = lambda w: lax.select_n(w, cases[0][0], cases[1][0])  # noqa: E731
    check_mapped(spmd.vmap(only_which), only_which, (rng.random((3,) + SHAPE) < 0.5,))
    only_cases = lambda a, b: lax.select_n(np.bool_(True), a, b)  # noqa: E731
    check_mapped(spmd.vmap(only_cases), only_cases, tuple(cases[:2]))


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: lax.select_n(np.int32(0)), ValueError, "at least one case"),
    (lambda x: lax.select_n(np.int32(0), x, x.astype(np.int32)), TypeError,
     "all cases must have the same shape and dtype"),
    (lambda x: lax.select_n(np.zeros(3, np.int32), x, x), TypeError,
     r"which must be a scalar or have the cases' shape \(2, 5\), got shape \(3,\)"),
    (lambda x: lax.select_n(np.float32(0), x, x), TypeError,
     "which must be a boolean or integer array, got float32"),
    (lambda x: lax.select_n(np.bool_(True), x, x, x), TypeError,
     "a boolean which selects between at most 2 cases, got 3"),
])
def test_misuses_say_what_is_wrong(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.zeros(SHAPE, np.float32))
