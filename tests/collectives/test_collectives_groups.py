"""axis_index_groups beyond pmap's replica groups: groups of several sizes for the all-reduces
(psum, pmean, pmax, pmin, as JAX allows) under pmap, a jitted pmap and vmap, and every grouped
collective under vmap, against NumPy on the gathered inputs."""
import numpy as np
import pytest

import spmd
from spmd import lax
from tests.collectives.cases import CASES, F32, I32, groups_for, inputs, per_participant
from tests.oracles import assert_close

UNEVEN = [[2], [0, 3, 1]]
REDUCTIONS = [
    ("psum", lax.psum, lambda G: G.sum(0, dtype=G.dtype), (F32, I32)),
    ("pmean", lax.pmean, lambda G: G.mean(0).astype(np.float32), (F32, I32)),
    ("pmax", lax.pmax, lambda G: G.max(0), (F32,)),
    ("pmin", lax.pmin, lambda G: G.min(0), (F32,)),
]
MAPPERS = {
    "pmap": lambda f: spmd.pmap(f, axis_name="i"),
    "jit(pmap)": lambda f: spmd.jit(spmd.pmap(f, axis_name="i")),
    "vmap": lambda f: spmd.vmap(f, axis_name="i"),
}


@pytest.mark.parametrize("mapper", MAPPERS, ids=str)
@pytest.mark.parametrize("name,reduce,oracle,dtypes", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_all_reduce_in_groups_of_several_sizes(name, reduce, oracle, dtypes, mapper):
    for dtype in dtypes:
        X = np.array([[3, -1], [0, 5], [7, 2], [-4, 4]], dtype)
        out = MAPPERS[mapper](lambda x: reduce(x, "i", axis_index_groups=UNEVEN))(X)
        assert_close(out, per_participant(X, UNEVEN, lambda G, p: oracle(G)))


def test_axis_size_in_groups_of_several_sizes_is_each_groups_size():
    f = spmd.pmap(lambda x: x + lax.psum(1, "i", axis_index_groups=UNEVEN), axis_name="i")
    assert_close(f(np.zeros(4, np.int32)), np.array([3, 3, 1, 3], np.int32))


def test_gradient_through_groups_of_several_sizes():
    X = np.arange(8.0, dtype=np.float32).reshape(4, 2)

    def loss(x):
        return (spmd.pmap(lambda a: np.float32(2) * lax.psum(a, "i", axis_index_groups=UNEVEN),
                          axis_name="i")(x) ** 2).sum()
    # d/dx_k of sum over members m of its group g of (2 S_g)^2 = |g| * 8 S_g
    S = per_participant(X, UNEVEN, lambda G, p: G.sum(0))
    sizes = np.array([3, 3, 1, 3], np.float32)[:, None]
    assert_close(spmd.grad(loss)(X), sizes * 8 * S)


@pytest.mark.parametrize("case", [c for c in CASES if c.grouped], ids=str)
def test_grouped_collective_under_vmap(case):
    groups = groups_for(4)
    X = inputs(case, 4, F32, groups)
    out = spmd.vmap(lambda x: case.fun(x, "i", groups), axis_name="i")(X)
    assert_close(out, case.oracle(X, groups))
