"""lax.reduce_xor as JAX's reduce_xor primitive (values and the misuse are tested with lax.reduce
in tests/spmd/test_lax_tree_reductions.py): one equation, jit, vmap against the unbatched
function, and every integer width."""
import numpy as np
import pytest

import spmd
from spmd import lax
from tests.oracles import check_mapped

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.uint64])
def test_reduce_xor_is_one_primitive_for_every_width(dtype, x64):
    x = rng.integers(0, 100, (3, 4, 2)).astype(dtype)
    (eqn,) = spmd.make_jaxpr(lambda v: lax.reduce_xor(v, (0, 2)))(x).jaxpr.eqns
    assert eqn.prim is lax.reduce_xor_p and eqn.params == {"axes": (0, 2)}
    got = spmd.jit(lambda v: lax.reduce_xor(v, (0, 2)))(x)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), np.bitwise_xor.reduce(x, axis=(0, 2)))
    f = lambda v: lax.reduce_xor(v, (0,))  # noqa: E731
    check_mapped(spmd.vmap(f, in_axes=1), f, (x,), in_axes=1)
