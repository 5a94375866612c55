"""pmap's misuses raise JAX's error types with the words JAX users search for (the regexes are
those of JAX 0.10.2's tests/pmap_test.py): in_axes/out_axes prefix mismatches name JAX's key
path, keyword arguments are said to be mapped over their leading axis, `devices=[]` and an
inner pmap with devices are ValueErrors."""
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax

X = np.array([3.14], np.float32)

ERRORS = [
    ("in_axes prefix mismatch", lambda: spmd.pmap(lambda x, y: x, in_axes=((0, 0, 0), 0))(
        (X, X), X), ValueError, re.escape("pmap in_axes[0][0]")),
    ("in_axes prefix mismatch after a static argument", lambda: spmd.pmap(
        lambda n, x, y: x, in_axes=(None, 0, [0]), static_broadcasted_argnums=0)(1, X, (X,)),
     ValueError, r"different types at key path\n    pmap in_axes\[0\]\[1\]\n"),
    ("in_axes with keyword arguments", lambda: spmd.pmap(lambda x, y: x, in_axes=((0, 0), 0))(
        x=(X, X), y=X), ValueError, re.escape("each argument passed by keyword is mapped")),
    ("out_axes prefix mismatch", lambda: spmd.pmap(lambda x, y: ((x, x), x),
                                                   out_axes=((0, 0, 0), 0))(X, X),
     ValueError, r"pytree structure error: different lengths of tuple at key path\n"
                 r"    pmap out_axes\[0\]\n"),
    ("dict keys differ", lambda: spmd.pmap(lambda p: p, in_axes=({"a": 0, "c": 0},))({"a": X}),
     ValueError, r"different numbers of pytree children at key path\n    pmap in_axes\[0\]\[0\]"),
    ("unbound axis name", lambda: spmd.pmap(lambda x: lax.psum(x, "batch"))(X), NameError,
     "unbound axis name: 'batch'"),
    ("no devices", lambda: spmd.pmap(lambda x: x - lax.psum(x, "i"), axis_name="i", devices=[]),
     ValueError, re.escape("'devices' argument to pmap must be non-empty, or None.")),
    ("nested pmap with explicit devices", lambda: spmd.pmap(
        lambda x: spmd.pmap(lambda y: lax.psum(y, "j"), axis_name="j",
                            devices=spmd.devices()[:1])(x), axis_name="i")(np.ones((2, 1))),
     ValueError, "Nested pmap with explicit devices argument."),
]


@pytest.mark.parametrize("call,error,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_jax_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_psum_on_booleans_inside_pmap_counts():  # JAX's testPsumOnBooleanDtype, a neighbour
    out = spmd.pmap(lambda x: lax.psum(x, "i"), axis_name="i")(jnp.asarray([True, True, False]))
    np.testing.assert_array_equal(np.asarray(out), [2, 2, 2])
