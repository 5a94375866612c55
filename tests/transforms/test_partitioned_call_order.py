"""The per-call order check of a jit program over a mesh (transforms/partitioned_call_order.py),
in one process: each device's row of the pair stands for its process's (program id, call
count). Rows that agree run the program (NumPy oracle) and step the count; a row that differs
skips it (zeros, no collective of the program runs) and shows in the reduced pair. The check
across real processes, with its error, runs in tests/spmd/scripts/mesh_multiprocess_job.py."""
import numpy as np
import pytest

import spmd
from spmd.sharding import NamedSharding, PartitionSpec as P
from spmd.transforms import core
from spmd.transforms.partitioned_call_order import CallOrderCheck
from spmd.transforms.partitioned_jit import CrossProcessChecks
from spmd.transforms.staging import closed_as_open, trace_to_jaxpr

MAX = 2 ** 31 - 1  # the count wraps there (as spmd/pmap_call_order.pair takes it)


def _checked(mesh, f, avals, in_specs):
    """`f` as the checked program, jitted over `mesh`: (pair, *args) -> (*outs, reduced, next)."""
    check = CallOrderCheck(mesh, CrossProcessChecks())
    jaxpr, consts = closed_as_open(trace_to_jaxpr(f, avals))
    assert not consts
    program = check.program(jaxpr)
    shardings = [check.sharding] + [NamedSharding(mesh, s) for s in in_specs]
    return spmd.jit(lambda *xs: core.eval_jaxpr(program, [], *xs), in_shardings=shardings)


def _pairs(rows):
    return np.array([[pid, count, -pid, -count] for pid, count in rows], np.int32)


def test_agreeing_rows_run_the_program_and_step_the_count():
    mesh = spmd.make_mesh((2, 4), ("data", "model"))
    x = np.arange(32, dtype=np.float32).reshape(8, 4)
    n = np.arange(8, dtype=np.int32)

    def f(a, b):  # a reduction over sharded axes (the partitioner's collectives) and 3 dtypes
        return a.sum(axis=0), b * 2, a[:, 0] > 3

    run = _checked(mesh, f, [core.get_aval(x), core.get_aval(n)], [P("data", "model"), P()])
    for count, following in [(3, 4), (MAX - 1, 0)]:
        *outs, reduced, after = run(_pairs([(5, count)] * 8), x, n)
        np.testing.assert_allclose(np.asarray(outs[0]), x.sum(axis=0))
        np.testing.assert_array_equal(np.asarray(outs[1]), n * 2)
        np.testing.assert_array_equal(np.asarray(outs[2]), x[:, 0] > 3)
        np.testing.assert_array_equal(np.asarray(reduced), [5, count, -5, -count])
        np.testing.assert_array_equal(np.asarray(after), _pairs([(5, following)] * 8))
        assert after.sharding == NamedSharding(mesh, P(("data", "model")))


@pytest.mark.parametrize("other", [(5, 2), (9, 3)], ids=["another call", "another program"])
def test_a_differing_row_skips_the_program(other):
    mesh = spmd.make_mesh((8,), ("batch",))
    x = np.arange(16, dtype=np.float32) + 1
    run = _checked(mesh, lambda a: [a.sum() * 2], [core.get_aval(x)], [P("batch")])
    rows = [(5, 3)] * 6 + [other] * 2  # the last two devices: another process, out of step
    out, reduced, after = run(_pairs(rows), x)
    assert float(out) == 0.0  # not computed
    pids, counts = [5, other[0]], [3, other[1]]
    np.testing.assert_array_equal(np.asarray(reduced),
                                  [max(pids), max(counts), -min(pids), -min(counts)])
    np.testing.assert_array_equal(np.asarray(after), _pairs([(p, c + 1) for p, c in rows]))
