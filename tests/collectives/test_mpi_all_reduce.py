"""The lowering of all-reduces between processes (collectives/mpi_all_reduce.py), in one
process: the 8 devices play P processes of 8/P devices each, and either a stand-in
communicator (threads meeting at a barrier) plays MPI between them, or (gloo's way,
`gloo_after_local`) an XLA all_reduce between one device of each does. Each program is checked
against NumPy on the gathered inputs. The real thing, under mpiexec and spmd-run, is in
tests/spmd/test_pmap_multiprocess.py."""
import collections
import queue
import threading

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax, pmap_program
from spmd.collectives.mpi_all_reduce import CallbackAllReduce, gloo_after_local
from tests.collectives.cases import BF16, CASES, groups_for, inputs
from tests.collectives.transport_cases import MPI_CALLS, expected_sites, sites_in
from tests.oracles import assert_close
from spmd.transforms import lowering

CALLBACK = "xla_buffer_python_cpu_callback"


IN_PLACE = object()  # the stand-in for MPI.IN_PLACE
PROC_NULL = -2  # for MPI.PROC_NULL


class StandInWorld:
    """P ranks that meet at a barrier in each collective and compute what MPI would with NumPy
    (Sendrecv through mailboxes); `calls` counts rank 0's calls of each kind."""

    def __init__(self, size: int):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.sends = [None] * size
        self.calls = collections.Counter()
        self.mail = {}  # (source, destination) -> queue.Queue of messages
        self.mail_lock = threading.Lock()
        self.parts = {}  # ranks -> the StandInWorld of a sub-communicator over them

    def part(self, ranks: tuple) -> "StandInWorld":
        with self.mail_lock:
            return self.parts.setdefault(ranks, StandInWorld(len(ranks)))

    def _meet(self, r: int, kind: str, contribution, result):
        """Every rank's contribution, then `result(contributions)` on each rank."""
        self.sends[r] = np.array(contribution)
        self.barrier.wait()
        out = result(self.sends)
        self.calls[kind] += r == 0
        self.barrier.wait()  # nobody overwrites a send before everyone has read it
        return out

    def _box(self, source: int, destination: int) -> queue.Queue:
        with self.mail_lock:
            return self.mail.setdefault((source, destination), queue.Queue())

    def rank(self, r: int):
        world = self

        def total(sends, op):
            out = sends[0]
            for other in sends[1:]:
                out = op(out, other)
            return out

        class Rank:
            def sub(self, ranks):  # the sub-communicator (None outside it), as MPI_Comm_split
                return world.part(ranks).rank(ranks.index(r)) if r in ranks else None

            def Allreduce(self, send, recv, op):
                recv[...] = world._meet(r, "Allreduce", recv if send is IN_PLACE else send,
                                        lambda sends: total(sends, op))

            def Allgather(self, send, recv):
                mine = recv.reshape(world.size, -1)[r] if send is IN_PLACE else send
                recv[...] = world._meet(r, "Allgather", mine, lambda sends: np.concatenate(
                    [s.reshape(-1) for s in sends]).reshape(recv.shape))

            def Reduce_scatter_block(self, send, recv, op):
                recv[...] = world._meet(r, "Reduce_scatter_block", send, lambda sends: total(
                    sends, op).reshape(world.size, -1)[r].reshape(recv.shape))

            def Alltoall(self, send, recv):
                recv[...] = world._meet(r, "Alltoall", send, lambda sends: np.stack(
                    [s.reshape(world.size, -1)[r] for s in sends]).reshape(recv.shape))

            def Sendrecv(self, send, dest, recvbuf, source):
                world.calls["Sendrecv"] += r == 0
                if dest != PROC_NULL:
                    world._box(r, dest).put(np.array(send))
                if source != PROC_NULL:
                    recvbuf[...] = world._box(source, r).get(timeout=60)
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
                                     {"sum": np.add, "max": np.maximum, "min": np.minimum},
                                     IN_PLACE, PROC_NULL, lambda comm, ranks: comm.sub(ranks))
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
    over the stand-in MPI every collective over the whole axis goes through a callback (in a
    chain, each process's part done by its last replica) and one MPI call; without MPI the
    all-reduces reduce within the process, then an XLA all_reduce between the processes. Over
    MPI the grouped ones go through callbacks too: one MPI call per site (Allreduce for the
    reductions, Allgather for the others) on the world (2 and 4 processes: each group spans
    them all), or on each group's sub-communicator (8)."""
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
    text = texts[-1]
    sites = expected_sites(specs, between == "mpi")
    assert sites_in(text) == sites and text.count(CALLBACK) == sum(sites.values()), text
    if between == "mpi":  # one MPI call per site (a ppermute: a Sendrecv per peer distance)
        calls, world = dict(worlds[-1].calls), worlds[-1]
        assert calls.pop("Sendrecv") >= sites["ppermute"] > 0
        whole = expected_sites([s for s in specs if s[2] is None], True)
        grouped = expected_sites([s for s in specs if s[2] is not None], True)
        reductions = grouped.pop("all_reduce")
        in_groups = {"Allreduce": reductions, "Allgather": sum(grouped.values())}
        assert reductions > 0 and in_groups["Allgather"] > 0
        want = collections.Counter({MPI_CALLS[s]: k for s, k in whole.items()
                                    if s != "ppermute"})
        if count == 8:  # groups [0, 2, 4, 6] and [7, 5, 3, 1]: a sub-communicator each
            assert sorted(world.parts) == [(0, 2, 4, 6), (1, 3, 5, 7)]
            assert [dict(w.calls) for w in world.parts.values()] == [in_groups] * 2
        else:
            want.update(in_groups)
        assert calls == want
    else:  # one all_reduce between processes after each callback, in groups across them
        per = 8 // count
        across = ", ".join("[" + ", ".join(str(p * per + j) for p in range(count)) + "]"
                           for j in range(per))
        assert text.count(f"replica_groups = dense<[{across}]>") == sites["all_reduce"]


@pytest.mark.parametrize("dtype", [BF16, np.float16], ids=["bfloat16", "float16"])
def test_narrow_floats_are_summed_in_float32_and_booleans_reduced_as_bytes(processes, dtype):
    """Over the stand-in MPI: a narrow float's sum is taken in float32 and rounded once (one
    large value and seven ones: summed in the narrow type, each one would round away), its max
    is exact, booleans' pmin/pmax go as bytes, and the collectives that move data move it as
    it is; every one through the callbacks."""
    texts, _ = processes(2)
    big = {BF16: 256.0, np.dtype(np.float16): 2048.0}[np.dtype(dtype)]
    x = np.ones((8, 8), np.float32)
    x[0] = big
    x[:, 1] = np.arange(8)
    flags = np.arange(8 * 3).reshape(8, 3) % 5 != 0

    def f(v, b):
        return (lax.psum(v, "i"), lax.pmax(v, "i"), lax.pmin(b, "i"), lax.pmax(b, "i"),
                lax.all_gather(v, "i"), lax.psum_scatter(v, "i", tiled=True),
                lax.all_to_all(v, "i", 0, 0, tiled=True), lax.ppermute(v, "i", [(0, 5)]))
    v = x.astype(dtype)
    got = spmd.pmap(f, axis_name="i")(v, flags)
    total = v.astype(np.float32).sum(0)
    assert total[0] == big + 7 and total.astype(dtype)[0] != big  # summed in dtype: big
    shifted = np.zeros_like(v)
    shifted[5] = v[0]
    want = (np.broadcast_to(total.astype(dtype), v.shape), np.broadcast_to(v.max(0), v.shape),
            np.broadcast_to(flags.all(0), flags.shape), np.broadcast_to(flags.any(0), flags.shape),
            np.broadcast_to(v, (8,) + v.shape), total.astype(dtype).reshape(8, 1), v.T, shifted)
    for name, out, expected in zip(("psum", "pmax", "pmin bool", "pmax bool", "all_gather",
                                    "psum_scatter", "all_to_all", "ppermute"), got, want):
        assert np.asarray(out).dtype == expected.dtype, name
        np.testing.assert_array_equal(np.asarray(out), expected, err_msg=name)
    assert sites_in(texts[-1]) == {"all_reduce": 4, "all_gather": 1, "psum_scatter": 1,
                                   "all_to_all": 1, "ppermute": 1}


def test_ppermutes_that_differ_only_in_their_pairs_run_apart(processes):
    """The pairs live in the host callback: two programs alike but for them must not share a
    compiled executable (cached by program text)."""
    processes(2)
    x = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)

    def shifted(by):
        perm = [(k, (k + by) % 8) for k in range(8)]
        return np.asarray(spmd.pmap(lambda v: lax.ppermute(v, "i", perm), axis_name="i")(x))
    np.testing.assert_array_equal(shifted(1), np.roll(x, 1, 0))
    np.testing.assert_array_equal(shifted(3), np.roll(x, 3, 0))


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
    # "%v6:2 = ..." -> "%v6#1)": the token, each callback's second result
    tokens = [line.split(":")[0].strip() + "#1)" for line in calls]
    assert tokens[0] in calls[1] and tokens[1] in calls[2], "\n".join(calls)
    assert tokens[0] not in calls[2]


@pytest.mark.parametrize("between", ["mpi", "xla"])
def test_reductions_in_loops_and_branches_stay_in_the_chain(processes, between):
    """A psum in a scan body, in a while loop's cond and its body, in a branch of cond: each
    through the callbacks, the loop and the branch carrying the chain's token (its state's and
    the case's last value), so every process calls MPI in one order however many times the
    loop runs: here as often as the collectives run, 13 times. Without MPI each still
    reduces within the process first."""
    texts, worlds = processes(4, between)
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)

    def step(v):
        def body(carry, _):
            return carry + lax.psum(v, "i"), None
        total, _ = lax.scan(body, lax.psum(v, "i"), None, length=3)  # 1 + 3 calls

        def more(state):  # 4 calls: 3 iterations
            return lax.psum(state[0], "i") < 3 * 8

        def again(state):  # 3 calls
            return state[0] + 1, state[1] + lax.pmax(v, "i")
        _, maxes = lax.while_loop(more, again, (0, jnp.zeros_like(v)))
        least = lax.cond(total[0] > -1e30, lambda u: lax.pmin(u, "i"), lambda u: u, v)
        return lax.pmax(total, "i"), maxes, least  # 1 + 1 calls
    got = spmd.pmap(step, axis_name="i")(x)
    want = (4 * x.sum(0), 3 * x.max(0), x.min(0))
    for out, expected in zip(got, want):
        np.testing.assert_allclose(np.asarray(out), np.broadcast_to(expected, x.shape),
                                   rtol=1e-5)
    text = texts[-1]
    assert text.count(CALLBACK) == 6, text
    loop = text[text.index('"stablehlo.while"'):]
    assert "tensor<ui8>) -> (tensor<i32>" in text  # a loop state that ends with the token
    if between == "mpi":
        assert '"stablehlo.all_reduce"' not in text, text
        assert worlds[-1].calls == {"Allreduce": 13}
    else:  # after the reduction within the process, XLA's between them, in the loop too
        assert '"stablehlo.all_reduce"' in loop


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
    assert worlds[-1].calls == {"Allreduce": 200}


def test_an_unknown_transport_is_a_clear_error():
    spmd.clear_caches()
    spmd.config.update("cross_process_collectives", "infiniband")
    try:
        with pytest.raises(ValueError, match=r"cross_process_collectives is 'infiniband'; choose "
                                             r"one of \('auto', 'mpi', 'gloo'\)"):
            spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")(np.ones((2, 3), np.float32))
    finally:
        spmd.config.update("cross_process_collectives", "auto")
