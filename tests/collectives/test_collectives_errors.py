"""Misuses of the collectives fail with errors that say what is wrong and what to do."""
import numpy as np
import pytest

import spmd
from spmd import lax

X4 = np.arange(12.0, dtype=np.float32).reshape(4, 3)
X44 = np.zeros((4, 4), np.float32)


def _pmap(f, x=X4):
    return lambda: spmd.pmap(f, axis_name="i")(x)


def _vmap(f, x=X4):
    return lambda: spmd.vmap(f, axis_name="i")(x)


ERRORS = [
    ("outside any mapped context", lambda: lax.psum(X4, "i"), NameError,
     r"unbound axis name: 'i': collectives over a named axis must run inside "
     r"pmap\(\.\.\., axis_name='i'\) or vmap"),
    ("axis_index outside", lambda: lax.axis_index("i"), NameError, "unbound axis name: 'i'"),
    ("name no pmap binds", _pmap(lambda x: lax.psum(x, "j")), NameError,
     r"unbound axis name: 'j'\. The names bound by the enclosing pmap/vmap are \['i'\]"),
    ("name no vmap binds", _pmap(spmd.vmap(lambda x: lax.all_gather(x, "k"), axis_name="j")),
     NameError, r"unbound axis name: 'k'\. The names bound by the enclosing pmap/vmap are "
                r"\['i', 'j'\]"),
    ("groups that do not cover", _pmap(lambda x: lax.psum(x, "i", axis_index_groups=[[0, 1]])),
     ValueError, r"must contain every index of axis 'i' \(size 4\) exactly once"),
    ("groups of different sizes outside the all-reduces",
     _pmap(lambda x: lax.all_gather(x, "i", axis_index_groups=[[0], [1, 2, 3]])), ValueError,
     "must all have the same size"),
    ("groups over two names", _pmap(spmd.vmap(
        lambda x: lax.psum(x, ("i", "j"), axis_index_groups=[[0, 1]]), axis_name="j"),
        np.zeros((4, 2), np.float32)), ValueError, "works over a single axis name"),
    ("ppermute repeated destination", _pmap(lambda x: lax.ppermute(x, "i", [(0, 1), (2, 1)])),
     ValueError, "repeats a destination index"),
    ("ppermute out of range", _pmap(lambda x: lax.ppermute(x, "i", [(0, 4)])), ValueError,
     r"pair \(0, 4\) .* out of range for axis 'i' of size 4"),
    ("pshuffle not a permutation", _pmap(lambda x: lax.pshuffle(x, "i", [0, 0, 1, 2])),
     ValueError, "is not a permutation"),
    ("psum_scatter size", _pmap(lambda x: lax.psum_scatter(x, "i")), ValueError,
     r"dimension 0 of the operand \(shape \(3,\)\) must equal the number of participants 4"),
    ("all_to_all size", _pmap(lambda x: lax.all_to_all(x, "i", 0, 0)), ValueError,
     r"split_axis 0 .* must equal the number of participants 4"),
    ("all_gather axis", _pmap(lambda x: lax.all_gather(x, "i", axis=3)), ValueError,
     "axis=3 is out of range"),
    ("pmax of complex", _pmap(lambda x: lax.pmax(x * 1j, "i")), TypeError,
     "pmax does not accept complex values"),
    ("positional axis with a collective that needs names", _pmap(lambda x: lax.all_gather(x, 0)),
     TypeError, "takes axis names, not positional axes"),
    ("ppermute over a vmap and a pmap name", lambda: spmd.pmap(spmd.vmap(
        lambda x: lax.ppermute(x, ("i", "j"), [(0, 1)]), axis_name="j"), axis_name="i")(X44),
     NotImplementedError, r"ppermute over the vmap axis 'j' works over that name alone"),
]


@pytest.mark.parametrize("call,error,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_positional_axes_reduce_locally():
    """Integers in axis_name are positional axes of the value, reduced before the named ones."""
    out = spmd.pmap(lambda x: lax.psum(x, ("i", 0)), axis_name="i")(X4)
    np.testing.assert_allclose(np.asarray(out), np.full(4, X4.sum()))
    out = spmd.pmap(lambda x: lax.pmean(x, ("i", 0)), axis_name="i")(X4)
    np.testing.assert_allclose(np.asarray(out), np.full(4, X4.mean()))
