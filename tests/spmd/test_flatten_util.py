"""spmd.flatten_util.ravel_pytree: the leaves concatenated in tree order (checked against
NumPy), the promoted dtype, unravel's round trip, jit/grad through both, and its errors."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.flatten_util import ravel_pytree
from tests.oracles import assert_close

F32, I32, F16 = np.float32, np.int32, np.float16


@pytest.mark.parametrize("dtypes, flat_dtype", [((F32, F32), F32), ((F32, I32), F32),
                                                ((I32, I32), I32), ((F16, F32), F32),
                                                ((np.bool_, I32), I32)])
def test_ravel_concatenates_in_tree_order_and_round_trips(dtypes, flat_dtype):
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(2, 3)) * 4).astype(dtypes[0])
    b = (rng.normal(size=(4,)) * 4).astype(dtypes[1])
    tree = {"z": a, "a": [b, ()]}  # dict keys in sorted order: "a" before "z"
    flat, unravel = ravel_pytree(tree)
    assert flat.dtype == flat_dtype
    np.testing.assert_array_equal(np.asarray(flat),
                                  np.concatenate([b.ravel(), a.ravel()]).astype(flat_dtype))
    back = unravel(flat)
    assert back["a"][1] == () and back["z"].dtype == dtypes[0] and back["a"][0].dtype == dtypes[1]
    np.testing.assert_array_equal(np.asarray(back["z"]), a)
    np.testing.assert_array_equal(np.asarray(back["a"][0]), b)


def test_empty_and_scalar_pytrees():
    flat, unravel = ravel_pytree({"a": [], "b": None})
    assert flat.shape == (0,) and flat.dtype == np.float32
    assert unravel(flat) == {"a": [], "b": None}
    flat, unravel = ravel_pytree(2.5)
    assert flat.shape == (1,) and float(unravel(flat)) == 2.5


def test_jit_and_grad_through_ravel_and_unravel():
    params = {"w": jnp.asarray(np.arange(6, dtype=F32).reshape(2, 3)), "b": jnp.ones(3)}
    flat, unravel = ravel_pytree(params)

    def loss(v):  # a loss on the flat vector through the structured parameters
        p = unravel(v)
        return jnp.sum((jnp.ones(2) @ p["w"] + p["b"]) ** 2)

    ones_w = np.ones((2, 3), F32)
    out = np.ones(2, F32) @ np.arange(6, dtype=F32).reshape(2, 3) + 1
    expected = np.concatenate([2 * out, (2 * out[None, :] * ones_w).ravel()])  # b then w
    assert_close(spmd.jit(spmd.grad(loss))(flat), expected)
    assert_close(spmd.jit(lambda p: ravel_pytree(p)[0])(params), np.asarray(flat))
    assert spmd.jit(lambda v, u: u(v)["b"], static_argnums=1)(flat, unravel).shape == (3,)
    assert unravel == ravel_pytree(params)[1] and hash(unravel) == hash(ravel_pytree(params)[1])


def test_unravel_errors():
    _, unravel = ravel_pytree({"a": np.ones(3, F32)})
    with pytest.raises(ValueError, match=r"expects a 1-D array of 3 values .* got shape \(4,\)"):
        unravel(jnp.ones(4))
    _, unravel = ravel_pytree([np.ones(2, F32), np.ones(2, I32)])
    with pytest.raises(TypeError, match="given array of dtype int32, but expected dtype float32"):
        unravel(jnp.ones(4, jnp.int32))
