"""lax.scatter_sub as JAX's primitive scatter_sub_p: values against np.subtract.at for the
dtype families (unsigned integers wrap), derivatives against finite differences, vmap against
the unbatched function (shared and per-example indices), and the misuse of booleans."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped
from tests.transforms.random_operands import draw

rng = np.random.default_rng(0)
DNUMS = lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                    scatter_dims_to_operand_dims=(0,))
INDICES = np.array([[1], [3], [1], [0]], np.int32)  # index 1 twice: the updates accumulate


def oracle(operand, updates):
    out = np.array(operand)
    np.subtract.at(out, INDICES[:, 0], updates)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.complex64,
                                   dtypes.bfloat16])
def test_scatter_sub_is_np_subtract_at(dtype):
    operand, updates = draw(rng, (5, 3), dtype), draw(rng, (4, 3), dtype)
    expected = oracle(operand.astype(np.float32) if dtype == dtypes.bfloat16 else operand,
                      updates.astype(np.float32) if dtype == dtypes.bfloat16 else updates)
    assert_close(lax.scatter_sub(operand, INDICES, updates, DNUMS), expected.astype(dtype))
    jitted = spmd.jit(lambda o, u: lax.scatter_sub(o, INDICES, u, DNUMS))(operand, updates)
    assert_close(jitted, expected.astype(dtype))


def test_scatter_sub_is_its_own_primitive():
    jaxpr = spmd.make_jaxpr(lambda o, u: lax.scatter_sub(o, INDICES, u, DNUMS))(
        np.zeros((5, 3), np.float32), np.zeros((4, 3), np.float32))
    assert [e.prim for e in jaxpr.jaxpr.eqns] == [lax.scatter_sub_p]


def test_derivatives_match_finite_differences(x64):
    operand, updates = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    check_grads(lambda o, u: lax.scatter_sub(o, INDICES, u, DNUMS) ** 2, (operand, updates),
                order=2)
    # the transpose: each update's cotangent is minus the output's cotangent at its target
    g = spmd.grad(lambda u: lax.scatter_sub(operand, INDICES, u, DNUMS).sum())(updates)
    np.testing.assert_array_equal(np.asarray(g), -np.ones((4, 3)))


def test_vmap_matches_the_unbatched_function():
    operands = rng.standard_normal((2, 5, 3)).astype(np.float32)
    updates = rng.standard_normal((2, 4, 3)).astype(np.float32)
    shared = lambda o, u: lax.scatter_sub(o, INDICES, u, DNUMS)  # noqa: E731
    check_mapped(spmd.vmap(shared), shared, (operands, updates))
    own = lambda o, i, u: lax.scatter_sub(o, i, u, DNUMS)  # noqa: E731
    indices = rng.integers(0, 5, (2, 4, 1)).astype(np.int32)
    check_mapped(spmd.vmap(own), own, (operands, indices, updates))


def test_booleans_are_refused():
    with pytest.raises(TypeError, match="scatter_sub does not accept booleans"):
        lax.scatter_sub(np.zeros((5, 3), bool), INDICES, np.ones((4, 3), bool), DNUMS)
