"""lax.axis_size: the size of a named axis (a Python int, as psum(1, name) is), under pmap,
vmap, both at once and a jitted pmap; an unbound name is JAX's NameError."""
import numpy as np
import pytest

import spmd
from spmd import lax


def test_axis_size_is_the_mapped_size_everywhere():
    seen = []

    def f(x):
        seen.append((lax.axis_size("i"), lax.axis_size(("i", "j"))))
        return x * lax.axis_size("j")
    x = np.ones((4, 3), np.float32)
    nested = spmd.pmap(spmd.vmap(f, axis_name="j"), axis_name="i")(x)
    np.testing.assert_array_equal(np.asarray(nested), 3 * x)
    spmd.jit(spmd.vmap(spmd.pmap(f, axis_name="i"), axis_name="j"))(x.T)
    assert seen == [(4, 12), (4, 12)] and all(type(s) is int for pair in seen for s in pair)


def test_axis_size_of_an_unbound_name():
    with pytest.raises(NameError, match="unbound axis name: 'k'"):
        spmd.pmap(lambda x: x * lax.axis_size("k"), axis_name="i")(np.ones(2))
