"""The errors of spmd.numpy: each says what is wrong (with the shapes, axes or dtypes involved)
and what to do instead."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp

A, B = np.ones((2, 3), np.float32), np.ones((4,), np.float32)

ERRORS = [  # (call, exception, message pattern)
    (lambda: jnp.add(A, B), ValueError,
     r"could not be broadcast together with shapes \(2, 3\) \(4,\)"),
    (lambda: jnp.where(A > 0, A, B), ValueError, r"shapes \(2, 3\) \(4,\)"),
    (lambda: jnp.matmul(A, A), ValueError,
     r"mismatch in its core dimension.*\(2, 3\) and \(2, 3\)"),
    (lambda: jnp.dot(A, B), ValueError, r"shapes \(2, 3\) and \(4,\) not aligned"),
    (lambda: jnp.concatenate([A, B.reshape(1, 4)]), ValueError,
     r"along dimension 1, the array at index 0 has size 3 and the array at index 1 has size 4"),
    (lambda: jnp.stack([A, A.T]), ValueError, r"same shape, got \(2, 3\), \(3, 2\)"),
    (lambda: jnp.reshape(A, (4, 2)), ValueError,
     r"cannot reshape array of shape \(2, 3\) \(size 6\) into shape \(4, 2\)"),
    (lambda: jnp.einsum("ij,jk", A, A), ValueError, r"size of label 'j' for operand 1 \(2\) "),
    (lambda: jnp.einsum("ij,k", A), ValueError, "2 subscript terms .* but 1 operands"),
    (lambda: jnp.sum(A, axis=2), ValueError, "axis 2 is out of bounds for array of dimension 2"),
    (lambda: jnp.cumsum(A, axis=-3), ValueError,
     "axis -3 is out of bounds for array of dimension 2"),
    (lambda: jnp.argmax(A, axis=5), ValueError, "axis 5 is out of bounds"),
    (lambda: jnp.moveaxis(A, 0, 2), ValueError, "axis 2 is out of bounds"),
    (lambda: jnp.squeeze(A, axis=0), ValueError,
     r"size not equal to one: axis 0 of shape \(2, 3\)"),
    (lambda: jnp.split(B, 3), ValueError, "does not result in an equal division"),
    (lambda: jnp.max(np.zeros((0, 2))), ValueError, "zero-size array to reduction operation max"),
    (lambda: jnp.sum(A, out=A), NotImplementedError, "'out' argument to spmd.numpy.sum"),
    (lambda: jnp.where(A > 0, A), ValueError, "Either both or neither of the x and y"),
    (lambda: jnp.take_along_axis(A, np.zeros(2, np.int32), 1), ValueError,
     "same number of dimensions"),
    (lambda: jnp.nonzero(np.float32(1)), ValueError, "nonzero on 0d arrays is not allowed"),
    (lambda: jnp.sum("abc"), TypeError, "requires array-like arguments"),
    (lambda: spmd.jit(lambda x: jnp.nonzero(x))(A), Exception,
     "nonzero of a traced array needs a static size= argument"),
    (lambda: spmd.jit(lambda x: jnp.unique(x))(A), Exception,
     "unique of a traced array .* static size="),
    (lambda: spmd.jit(lambda x: x[x > 0])(A), IndexError,
     r"boolean indices must be concrete; got a traced mask bool\[2,3\].*spmd.numpy.where"),
    (lambda: spmd.jit(lambda n: jnp.repeat(A, n))(2), Exception, "repeat's repeats"),
]


@pytest.mark.parametrize("call, exc, pattern", ERRORS, ids=[p[:40] for _, _, p in ERRORS])
def test_error_message(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
