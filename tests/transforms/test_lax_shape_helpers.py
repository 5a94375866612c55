"""jax.lax's shape helpers: batch_matmul, broadcast_like, shape_as_value and empty (built from
other primitives) and the squeeze primitive, against NumPy, with their transforms and misuses."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.complex64, dtypes.bfloat16])
def test_batch_matmul_is_numpys_matmul(dtype):
    a = rng.integers(-3, 4, (2, 3, 4)).astype(dtype)
    b = rng.integers(-3, 4, (2, 4, 5)).astype(dtype)
    assert_close(lax.batch_matmul(a, b), (a.astype(np.complex128) @ b).astype(dtype)
                 if np.iscomplexobj(a) else (a.astype(np.float64) @ b).astype(dtype))


def test_batch_matmul_transforms_and_misuses(x64):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 2))
    check_grads(lax.batch_matmul, (a, b), order=1)
    check_mapped(spmd.vmap(lax.batch_matmul), lax.batch_matmul, (a[None], b[None]))
    with pytest.raises(ValueError, match="must be at least 2D, got 1, 2"):
        lax.batch_matmul(np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match="must have same ndim, got 3, 2"):
        lax.batch_matmul(np.ones((1, 3, 3)), np.ones((3, 3)))


def test_broadcast_like_follows_numpys_broadcasting():
    x = np.array([[1], [2], [3]], np.int32)
    like = np.zeros((2, 3, 4), np.float32)
    got = lax.broadcast_like(x, like)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.broadcast_to(x, like.shape))
    assert float(spmd.grad(lambda v: lax.broadcast_like(v, like).sum())(2.0)) == 24.0
    with pytest.raises(ValueError, match=r"cannot broadcast an array of shape \(2,\)"):
        lax.broadcast_like(np.ones(2), like)


def test_shape_as_value_and_empty():
    value = lax.shape_as_value((2, 3, 4))
    assert value.dtype == np.int32 and list(value) == [2, 3, 4]
    assert lax.shape_as_value((2**31,)).dtype == np.int64
    for shape, want in ((3, (3,)), ((2, 0, 1), (2, 0, 1))):
        out = lax.empty(shape, np.float32)
        assert out.shape == want and out.dtype == np.float32
    assert spmd.jit(lambda: lax.empty((2,), np.int32))().dtype == np.int32


def test_squeeze_is_its_own_primitive_with_canonical_dimensions():
    x = np.arange(6.0, dtype=np.float32).reshape(1, 2, 1, 3)
    (eqn,) = spmd.make_jaxpr(lambda v: lax.squeeze(v, (-2, 0, 0)))(x).jaxpr.eqns
    assert eqn.prim is lax.squeeze_p and eqn.params == {"dimensions": (0, 2)}
    np.testing.assert_array_equal(np.asarray(lax.squeeze(x, (-2, 0))), x.reshape(2, 3))
    f = lambda v: lax.squeeze(v, (1,))  # noqa: E731
    check_mapped(spmd.vmap(f, in_axes=2), f, (np.zeros((2, 1, 4, 3), np.float32),), in_axes=2)
    with pytest.raises(ValueError, match="squeeze: axis 4 is out of bounds for an array of rank 4"):
        lax.squeeze(x, (4,))
