"""float0 values (the gradients and tangents of integer values, as in JAX) through pmap: out of
a pmapped grad(..., allow_int=True), in as arguments (mapped, moved by out_axes), and as the
tangents of integer arguments of a pmap under jvp; never sent to a device."""
import numpy as np

import spmd
from spmd.transforms import dtypes
from tests.oracles import assert_close

X = np.array([0.5, -1.0, 2.0, 3.0], np.float32)
N = np.array([1, -2, 3, 4], np.int32)


def test_pmapped_grad_of_an_integer_argument_is_float0():
    g = spmd.pmap(spmd.grad(lambda x, n: x * x * n, argnums=(0, 1), allow_int=True))
    dx, dn = g(X, N)
    assert_close(dx, 2 * X * N.astype(np.float32))
    assert dn.dtype == dtypes.float0 and dn.shape == (4,)


def test_float0_arguments_pass_through_pmap_where_out_axes_puts_them():
    zeros = np.zeros((4, 2), dtypes.float0)
    out, passed = spmd.pmap(lambda x, t: (x * 2, t), out_axes=(0, 1))(X, zeros)
    assert_close(out, 2 * X)
    assert passed.dtype == dtypes.float0 and passed.shape == (2, 4)


def test_jvp_of_pmap_with_an_integer_argument():
    f = spmd.pmap(lambda x, n: x * n)
    out, tangent = spmd.jvp(f, (X, N), (np.ones(4, np.float32), np.zeros(4, dtypes.float0)))
    assert_close((out, tangent), (X * N.astype(np.float32), N.astype(np.float32)))
