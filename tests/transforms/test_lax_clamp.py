"""lax.clamp as JAX's one clamp primitive: scalar and full bounds under vmap against the
unbatched function, its derivatives (JAX's convention at ties is in test_gradient_conventions)
against finite differences, every real dtype family, and the misuses. (lax_cases.py runs clamp
with full-shape bounds through eager, jit, grad and vmap.)"""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import check_grads, check_mapped

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, dtypes.bfloat16])
def test_clamp_with_scalar_bounds_matches_numpy(dtype):
    x = rng.integers(0, 10, (3, 4)).astype(dtype)
    lo, hi = np.array(2, dtype), np.array(7, dtype)
    got = lax.clamp(lo, x, hi)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), np.clip(x, lo, hi))
    assert [e.prim for e in spmd.make_jaxpr(lax.clamp)(lo, x, hi).jaxpr.eqns] == [lax.clamp_p]


def test_vmap_with_batched_scalar_bounds_matches_the_loop():
    x = rng.standard_normal((3, 5)).astype(np.float32)
    lo, hi = np.float32([-1.0, 0.0, 0.5]), np.float32([0.0, 0.3, 2.0])
    check_mapped(spmd.vmap(lax.clamp), lax.clamp, (lo, x, hi))
    check_mapped(spmd.vmap(lax.clamp, in_axes=(0, None, None)), lax.clamp,
                 (lo, x[0], np.float32(0.6)), in_axes=(0, None, None))
    per_example = spmd.grad(lambda a, v: lax.clamp(a, v, np.float32(1)).sum())
    grads = spmd.vmap(per_example)(lo, x)
    want = [per_example(lo[i], x[i]) for i in range(3)]
    np.testing.assert_array_equal(np.asarray(grads), np.asarray(want))


def test_derivatives_match_finite_differences(x64):
    x = rng.uniform(-2, 2, (6,))
    lo, hi = rng.uniform(-1, 0, (6,)), rng.uniform(0, 1, (6,))
    check_grads(lax.clamp, (lo, x, hi), order=2)


@pytest.mark.parametrize("call, match", [
    (lambda: lax.clamp(np.zeros(2, np.float32), np.zeros(3, np.float32), np.float32(1)),
     r"clamp requires min.shape == operand.shape or min.shape == \(\), got min.shape=\(2,\)"),
    (lambda: lax.clamp(np.float32(0), np.zeros(3, np.float32), np.zeros(2, np.float32)),
     r"max.shape == operand.shape"),
    (lambda: lax.clamp(np.int32(0), np.zeros(3, np.float32), np.float32(1)),
     "clamp got operands of different dtypes"),
    (lambda: lax.clamp(np.complex64(0), np.zeros(3, np.complex64), np.complex64(1)),
     "clamp does not accept complex64 operands"),
])
def test_misuses_say_what_is_wrong(call, match):
    with pytest.raises(TypeError, match=match):
        call()
