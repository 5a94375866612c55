"""reduce_window beyond the lax table's rows (lax_cases.py runs the max/min/sum/product windows
through eager, jit, grad and vmap): pooling as stax writes it, several operands at once, the
shape helper, and the misuses and the derivatives that are not implemented."""
import numpy as np
import pytest

import spmd
from spmd.transforms import lax
from tests.oracles import assert_close, check_grads
from tests.transforms import conv_reference

rng = np.random.default_rng(1)


def test_stax_pooling_under_jit_and_grad(x64):
    """stax's MaxPool and AvgPool: reduce_window with -inf/lax.max and 0./lax.add, NHWC."""
    x = rng.standard_normal((2, 5, 4, 3))
    dims, strides = (1, 2, 2, 1), (1, 2, 1, 1)

    def pools(x):
        top = lax.reduce_window(x, -np.inf, lax.max, dims, strides, "SAME")
        mean = lax.reduce_window(x, 0., lax.add, dims, strides, "VALID") / 4
        return top, mean
    pads = ((0, 0), (0, 1), (0, 1), (0, 0))
    want = (conv_reference.reduce_window(x, -np.inf, np.maximum, dims, strides, pads),
            conv_reference.reduce_window(x, 0., np.add, dims, strides, ((0, 0),) * 4) / 4)
    assert_close(spmd.jit(pools)(x), want)
    check_grads(pools, (x,), order=1)


def test_several_operands_with_a_python_computation():
    """An argmax over windows: (value, index) pairs reduced by a Python function."""
    x = rng.standard_normal((6, 5)).astype(np.float32)
    index = np.arange(30, dtype=np.int32).reshape(6, 5)

    def better(a, b):
        take_a = lax.ge(a[0], b[0])
        return lax.select(take_a, a[0], b[0]), lax.select(take_a, a[1], b[1])
    top, where = lax.reduce_window((x, index), (-np.inf, np.int32(-1)), better, (3, 2), (3, 1),
                                   "VALID")
    want = conv_reference.reduce_window(x, -np.inf, np.maximum, (3, 2), (3, 1), ((0, 0),) * 2)
    assert_close(top, want)
    np.testing.assert_array_equal(x.reshape(-1)[np.asarray(where)], want)
    mapped = spmd.vmap(lambda x: lax.reduce_window(x, 1., lax.mul, (2,), (1,), "VALID"))(x)
    assert_close(mapped, conv_reference.reduce_window(x.astype(np.float64), 1., np.multiply,
                                                      (1, 2), (1, 1), ((0, 0),) * 2)
                 .astype(np.float32))


def test_reduce_window_shape_tuple():
    x = np.zeros((7, 6, 3), np.float32)
    args = ((2, 3, 1), (2, 1, 1), ((1, 0), (0, 2), (0, 0)), (1, 2, 1), (1, 2, 1))
    got = lax.reduce_window_shape_tuple(x.shape, *args)
    assert got == lax.reduce_window(x, 0., lax.add, *args).shape == (4, 9, 3)


def _fixed_window(x, computation=lax.max, init=-np.inf, **kw):
    return lax.reduce_window(x, init, computation, (2,), (1,), "VALID", **kw)


def test_derivatives_that_are_not_implemented_say_so():
    x = np.arange(5.0, dtype=np.float32)
    with pytest.raises(NotImplementedError, match="differentiating reduce_window with a general "
                                                  "computation is not implemented"):
        spmd.grad(lambda x: _fixed_window(x, lax.mul, 1.).sum())(x)
    with pytest.raises(NotImplementedError, match="with base or window dilation are not "
                                                  r"implemented .*use forward mode"):
        spmd.grad(lambda x: _fixed_window(x, window_dilation=(2,)).sum())(x)
    # forward mode of a dilated max window works: the tangent of each window's maximum
    _, t = spmd.jvp(lambda x: _fixed_window(x, window_dilation=(2,)), (x,), (x * 10,))
    assert_close(t, np.array([20., 30., 40.], np.float32))


MISUSES = [
    (lambda: lax.reduce_window(np.ones((3, 4)), 0., lax.add, (2,), (1, 1), "VALID"),
     TypeError, r"window_dimensions \(2,\) must have one entry per dimension of the operand"),
    (lambda: lax.reduce_window(np.ones((3, 4)), 0., lax.add, (2, 0), (1, 1), "VALID"),
     TypeError, r"window_dimensions \(2, 0\) must be positive"),
    (lambda: lax.reduce_window(np.ones(3), 0., lax.add, (2,), (1,), "FULL"),
     ValueError, "unknown padding 'FULL'"),
    (lambda: lax.reduce_window(np.ones(3), 0., lax.add, (2,), (1,), [3]),
     TypeError, "padding must be 'SAME', 'VALID' or a sequence of"),
    (lambda: lax.reduce_window((np.ones(3), np.ones(3)), 0., lax.add, (2,), (1,), "VALID"),
     TypeError, "operand and init_value must have one structure"),
    (lambda: lax.reduce_window(np.ones(3, np.float32), 0., lambda a, b: a + b + np.ones(3),
                               (2,), (1,), "VALID"),
     TypeError, "computation must not close over arrays"),
    (lambda: spmd.vmap(lambda i: lax.reduce_window(np.ones(3, np.float32), i, lax.mul, (2,),
                                                   (1,), "VALID"))(np.ones(2, np.float32)),
     NotImplementedError, "init values that vary over a vmap axis"),
]


@pytest.mark.parametrize("call, error, message", MISUSES)
def test_misuse_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
