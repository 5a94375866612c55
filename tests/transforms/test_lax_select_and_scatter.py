"""lax.select_and_scatter_p (XLA's SelectAndScatter with any select and scatter computations)
against a NumPy loop over the windows, eagerly, under jit and vmap, with its errors."""
import itertools
import operator

import numpy as np
import pytest

import spmd
from spmd import lax as spmd_lax
from spmd.transforms import lax
from spmd.transforms.lax.select_and_scatter import select_and_scatter, select_and_scatter_p

X = np.array([[1, 5, 2, 0, 3], [3, 4, 8, 1, 3], [0, 2, 2, 7, 6]])
SOURCES = {  # window (2, 2), strides (1, 2): no padding, and a column of padding each side
    ((0, 0), (0, 0)): np.array([[10, 20], [30, 40]]),
    ((0, 0), (1, 1)): np.array([[10, 20, 50], [30, 40, 60]]),
}


def np_select_and_scatter(x, select, window, strides, padding, source, init, scatter):
    """In each window the first element that every later one fails to replace is chosen
    (`select(kept, candidate)` true keeps it); padding is never chosen."""
    out = np.full(x.shape, init, source.dtype)
    for w in itertools.product(*[range(n) for n in source.shape]):
        chosen = None
        for offset in itertools.product(*[range(n) for n in window]):
            at = tuple(i * s + o - lo for i, s, o, (lo, _) in zip(w, strides, offset, padding))
            if any(not 0 <= a < n for a, n in zip(at, x.shape)):
                continue
            if chosen is None or not select(x[chosen], x[at]):
                chosen = at
        out[chosen] = scatter(out[chosen], source[w])
    return out


PAIRS = [(lax.ge, operator.ge, lax.add, operator.add, 0),    # max pooling's gradient
         (lax.le, operator.le, lax.max, max, -100)]


# each case compiles its own program: one per dtype family, padding and computation pair
@pytest.mark.parametrize("dtype, padding, pair", [
    (np.float32, ((0, 0), (0, 0)), 0), (np.int32, ((0, 0), (1, 1)), 1)])
def test_matches_numpy(dtype, padding, pair):
    select, np_select, scatter, np_scatter, init = PAIRS[pair]
    x, source = X.astype(dtype), SOURCES[padding].astype(dtype)

    def f(x, source):
        return select_and_scatter(x, select, (2, 2), (1, 2), padding, source, dtype(init),
                                  scatter)
    want = np_select_and_scatter(x, np_select, (2, 2), (1, 2), padding, source, init,
                                 np_scatter)
    np.testing.assert_array_equal(f(x, source), want)


def test_jit_and_vmap_match_the_loop_and_the_operand_gets_a_zero_tangent():
    xs = np.stack([X, X[::-1], -X]).astype(np.float32)
    source = SOURCES[((0, 0), (0, 0))].astype(np.float32)

    def f(x, s):
        return select_and_scatter(x, lax.ge, (2, 2), (1, 2), ((0, 0), (0, 0)), s,
                                  np.float32(0), lax.add)
    np.testing.assert_array_equal(spmd.jit(spmd.vmap(f, (0, None)))(xs, source),
                                  [f(x, source) for x in xs])
    np.testing.assert_array_equal(spmd.grad(lambda x: f(x, source).sum())(xs[0]), np.zeros((3, 5)))
    assert spmd_lax.select_and_scatter_p is select_and_scatter_p


@pytest.mark.parametrize("call, error, match", [
    (lambda: select_and_scatter(X.astype(np.float32), lax.ge, (2, 2), (1, 2), ((0, 0), (0, 0)),
                                np.ones((3, 3), np.float32), np.float32(0), lax.add),
     TypeError, r"the source shape \(3, 3\) must be the shape of the operand's windows \(2, 2\)"),
    (lambda: select_and_scatter(X.astype(np.float32), lax.ge, (2,), (1, 2), ((0, 0), (0, 0)),
                                np.ones((2, 2), np.float32), np.float32(0), lax.add),
     TypeError, r"window_dimensions \(2,\) must have one entry per dimension"),
    (lambda: spmd.grad(lambda s: select_and_scatter(
        X.astype(np.float32), lax.ge, (2, 2), (1, 2), ((0, 0), (0, 0)), s, np.float32(0),
        lax.add).sum())(np.ones((2, 2), np.float32)),
     NotImplementedError, "has no derivative in source or init_value"),
])
def test_errors_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()
