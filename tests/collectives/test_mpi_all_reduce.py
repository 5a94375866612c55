"""The lowering of all-reduces between processes (collectives/mpi_all_reduce.py), in one
process: the 8 devices play P processes of 8/P devices each, and either a stand-in
communicator (threads meeting at a barrier) plays MPI between them, or (gloo's way,
`gloo_after_local`) an XLA all_reduce between one device of each does. Each program is checked
against NumPy on the gathered inputs. The real thing, under mpiexec and spmd-run, is in
tests/spmd/test_pmap_multiprocess.py."""
import threading

import numpy as np
import pytest

import spmd
from spmd import lax, pmap_program
from spmd.collectives.mpi_all_reduce import CallbackAllReduce, gloo_after_local
from tests.collectives.cases import BF16, CASES, F32, I32, groups_for, inputs
from tests.oracles import assert_close
from spmd.transforms import lowering

CALLBACK = "xla_buffer_python_cpu_callback"


IN_PLACE = object()  # the stand-in for MPI.IN_PLACE


class StandInWorld:
    """P ranks that reduce with NumPy once all P have arrived, as MPI Allreduce would."""

    def __init__(self, size: int):
        self.barrier = threading.Barrier(size, timeout=60)
        self.sends = [None] * size
        self.calls = 0

    def rank(self, r: int):
        world = self

        class Rank:
            def Allreduce(self, send, recv, op):
                world.sends[r] = np.array(recv if send is IN_PLACE else send)
                world.barrier.wait()
                total = world.sends[0]
                for other in world.sends[1:]:
                    total = op(total, other)
                recv[...] = total
                world.calls += r == 0
                world.barrier.wait()  # nobody overwrites a send before everyone has read it
        return Rank()


@pytest.fixture
def processes(monkeypatch):
    """Returns set(P): from then on, pmaps compile as if the 8 devices were P processes, and
    the texts of the programs they compile are collected in `texts`."""
    texts, worlds = [], []
    spmd.clear_caches()

    def set_processes(count, between="mpi"):
        def transport(devices):
            per = len(devices) // count
            groups = [list(range(p * per, (p + 1) * per)) for p in range(count)]
            if between == "xla":
                return gloo_after_local(groups, range(count))
            world = StandInWorld(count)
            worlds.append(world)
            return CallbackAllReduce(groups, {p: world.rank(p) for p in range(count)},
                                {"sum": np.add, "max": np.maximum, "min": np.minimum}, IN_PLACE)
        monkeypatch.setattr(pmap_program, "cross_process_transport", transport)
        lower = lowering.lower_module

        def recording(*args, **kwargs):
            texts.append(lower(*args, **kwargs))
            return texts[-1]
        monkeypatch.setattr(lowering, "lower_module", recording)
        return texts, worlds
    yield set_processes
    spmd.clear_caches()


@pytest.mark.parametrize("count,between", [(2, "mpi"), (4, "mpi"), (8, "mpi"), (2, "xla"),
                                           (4, "xla")])
def test_every_collective_case_in_one_program(processes, count, between):
    """All cases of the collective table, each dtype, and the grouped variants, in one program:
    psum/pmean/pmax/pmin over the whole axis go through the callbacks (in a chain, reduced
    within each stand-in process), then the stand-in MPI or an XLA all_reduce between the
    processes; the grouped ones and the other collectives stay XLA's."""
    texts, worlds = processes(count, between)
    specs = [(case, dtype, None) for case in CASES for dtype in case.dtypes]
    specs += [(case, case.dtypes[0], groups_for(8)) for case in CASES if case.grouped]
    stacked = [inputs(case, 8, dtype, groups) for case, dtype, groups in specs]

    def every_case(*xs):
        return tuple(case.fun(x, "i", groups) for x, (case, _, groups) in zip(xs, specs))
    outs = spmd.pmap(every_case, axis_name="i")(*stacked)
    for out, X, (case, dtype, groups) in zip(outs, stacked, specs):
        try:
            assert_close(out, case.oracle(X, groups))
        except AssertionError as e:
            raise AssertionError(f"{case} {np.dtype(dtype).name} groups={groups}: {e}") from None
    sites = texts[-1].count(CALLBACK)
    # over MPI: the whole-axis sums of every dtype but bfloat16 (booleans are summed as int32)
    # and the whole-axis max/min of float32 and int32 (MPI has no bfloat16 or boolean max)
    over_mpi = [(case.name, dtype) for case, dtype, groups in specs if groups is None and (
        case.name in ("psum", "pmean", "psum_scalar") and dtype != BF16
        or case.name in ("pmax", "pmin") and dtype in (F32, I32))]
    assert sites == len(over_mpi) > 0, over_mpi
    if between == "mpi":
        assert worlds[-1].calls == sites
    else:  # one all_reduce between processes after each callback, in groups across them
        per = 8 // count
        across = ", ".join("[" + ", ".join(str(p * per + j) for p in range(count)) + "]"
                           for j in range(per))
        assert texts[-1].count(f"replica_groups = dense<[{across}]>") == sites


def test_callbacks_are_chained_in_program_order(processes):
    """Each MPI call takes the previous one's result, so every process makes them in one order."""
    texts, _ = processes(2)
    x = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
    a, b, c = spmd.pmap(lambda v: (lax.psum(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i")),
                        axis_name="i")(x)
    for got, want in zip((a, b, c), (x.sum(0), x.max(0), x.min(0))):
        np.testing.assert_array_equal(np.asarray(got), np.broadcast_to(want, x.shape))
    calls = [line for line in texts[-1].splitlines() if CALLBACK in line]
    assert len(calls) == 3
    tokens = [line.split(" = ")[0].strip() + ")" for line in calls]  # "%v6 = ..." -> "%v6)"
    assert tokens[0] in calls[1] and tokens[1] in calls[2], "\n".join(calls)
    assert tokens[0] not in calls[2]


def test_a_reduction_inside_a_loop_stays_an_xla_all_reduce(processes):
    """A psum in a scan body runs once per iteration: it stays XLA's, beside top-level ones
    over MPI, and both give NumPy's numbers."""
    texts, _ = processes(4)
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)

    def step(v):
        def body(carry, _):
            return carry + lax.psum(v, "i"), None
        total, _ = lax.scan(body, lax.psum(v, "i"), None, length=3)
        return lax.pmax(total, "i")
    out = spmd.pmap(step, axis_name="i")(x)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(4 * x.sum(0), x.shape),
                               rtol=1e-5)
    text = texts[-1]
    assert text.count(CALLBACK) == 2  # the psum before the loop and the pmax after it
    body = text[text.index('"stablehlo.while"'):]
    assert '"stablehlo.all_reduce"' in body


def test_grad_of_a_data_parallel_step_over_mpi_equals_one_device(processes):
    """pmean of gradients over the stand-in MPI gives the whole-batch gradient (the transpose
    of psum is a psum, which goes over MPI too)."""
    texts, _ = processes(2)
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    xs = rng.standard_normal((8, 6, 4)).astype(np.float32)

    def loss(w, x):
        return (x @ w).sum() ** 2 / 100

    def device_grad(w, x):
        return lax.pmean(spmd.grad(loss)(w, x), "i")
    got = spmd.pmap(device_grad, axis_name="i", in_axes=(None, 0))(w, xs)
    want = np.mean([np.asarray(spmd.grad(loss)(w, xs[i])) for i in range(8)], axis=0)
    np.testing.assert_allclose(np.asarray(got), np.broadcast_to(want, got.shape), rtol=1e-4,
                               atol=1e-5)
    assert any(CALLBACK in text for text in texts)


def test_an_unblocked_loop_runs_one_mpi_execution_at_a_time(processes):
    """200 steps that never wait: each execution's MPI calls must not interleave with the
    next one's, or the stand-in ranks would pair up the wrong calls."""
    _, worlds = processes(2)
    step = spmd.pmap(lambda v: lax.pmean(v, "i") + 1.0, axis_name="i")
    x = np.random.default_rng(3).standard_normal((8, 16)).astype(np.float32)
    want = x
    y = step(x)
    for _ in range(199):
        y = step(y)
    for _ in range(200):
        want = np.broadcast_to(want.mean(0), want.shape) + 1.0
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5)
    assert worlds[-1].calls == 200


def test_an_unknown_transport_is_a_clear_error():
    spmd.clear_caches()
    spmd.config.update("cross_process_collectives", "infiniband")
    try:
        with pytest.raises(ValueError, match=r"cross_process_collectives is 'infiniband'; choose "
                                             r"one of \('auto', 'mpi', 'gloo'\)"):
            spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")(np.ones((2, 3), np.float32))
    finally:
        spmd.config.update("cross_process_collectives", "auto")
