"""Every collective under vmap with an axis name (its batching rule) against NumPy, and over
two names at once: pmap(vmap(...)) and vmap(vmap(...)), in both name orders; a collective over
the pmap name only, on a value batched by an inner vmap."""
import numpy as np
import pytest

import spmd
from tests.collectives.cases import CASES, F32, inputs
from tests.oracles import assert_close


@pytest.mark.parametrize("n", [1, 3, 4])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_collective_under_vmap(case, n):
    X = inputs(case, n, F32)
    out = spmd.vmap(lambda x: case.fun(x, "i", None), axis_name="i")(X)
    assert_close(out, np.broadcast_to(case.oracle(X, None), np.shape(out)))


def _pmap_vmap(f):
    return spmd.pmap(spmd.vmap(f, axis_name="j"), axis_name="i")


def _vmap_vmap(f):
    return spmd.vmap(spmd.vmap(f, axis_name="j"), axis_name="i")


@pytest.mark.parametrize("mapper", [_pmap_vmap, _vmap_vmap], ids=["pmap(vmap)", "vmap(vmap)"])
@pytest.mark.parametrize("sizes,names", [((4, 2), ("i", "j")), ((2, 3), ("j", "i"))],
                         ids=["4x2-ij", "2x3-ji"])
@pytest.mark.parametrize("case", [c for c in CASES if c.multi_name], ids=str)
def test_collective_over_two_names(case, sizes, names, mapper):
    ni, nj = sizes
    X = inputs(case, ni * nj, F32)  # participants in the linear order over `names`
    i, j = np.meshgrid(np.arange(ni), np.arange(nj), indexing="ij")
    linear = i * nj + j if names == ("i", "j") else j * ni + i
    out = mapper(lambda x: case.fun(x, names, None))(X[linear])
    expected = case.oracle(X, None)
    assert_close(out, np.broadcast_to(expected[linear], np.shape(out)))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pmap_collective_on_a_vmapped_value(case):
    """psum(x, 'i') inside vmap over 'j': the collective runs per batch element."""
    ni, nj = 4, 2
    X = inputs(case, ni, F32, seed=1)
    grid = np.stack([X, X * 2], axis=1)  # (ni, nj, ...)
    out = _pmap_vmap(lambda x: case.fun(x, "i", None))(grid)
    per_j = [case.oracle(grid[:, k], None) for k in range(nj)]
    assert_close(out, np.stack([np.broadcast_to(e, (ni,) + np.shape(e)[1:]) for e in per_j], 1))
