"""One process of a job whose pmaps span every process's devices, checked against single-process
oracles that every process computes by itself: NumPy on the global input (which every process
builds from the same seed) and single-device training on the whole batch.

Checks, in one run (each process import costs a second): every collective of
tests/collectives/cases.py in one program; in_axes/out_axes, broadcast arguments, results fed
back with donation, grad of a pmap, a per-process constant, a map over this process's devices
alone; spmd.distributed's helpers on pmap results; data-parallel training of a small MLP
against single-device training on the whole batch; collectives in loops and branches and over
axis_index_groups across processes (over MPI where the job has a world); and the errors for
a mapped size that is not the local device count and for processes that call a pmap with
different shapes or programs.
"""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

import numpy as np  # noqa: E402

import spmd  # noqa: E402

spmd.distributed.initialize()

import spmd.numpy as jnp  # noqa: E402
from spmd import lax  # noqa: E402
from spmd.cluster.distributed import mpi_communicator  # noqa: E402
from spmd.pmap_transport import cross_process_transport  # noqa: E402
from tests.collectives.cases import CASES, groups_for, inputs  # noqa: E402
from tests.collectives.transport_cases import (XLA_COLLECTIVE, expected_sites,  # noqa: E402
                                               sites_in)
from tests.oracles import assert_close  # noqa: E402

me, P = spmd.process_index(), spmd.process_count()
L, N = spmd.local_device_count(), spmd.device_count()
MINE = slice(me * L, (me + 1) * L)  # this process's rows of the global mapped axis
other = 1 if me == 0 else 0


def expect_error(error, pattern, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except error as e:
        assert re.search(pattern, str(e)), f"{pattern!r} not in {str(e)!r}"
    else:
        raise AssertionError(f"{fn.__name__} did not raise {error.__name__}")


def check_collectives():
    """Every collective case (each dtype) in one program over all N devices, and (where the
    table has groups for N) their axis_index_groups variants in another; each process compares
    its rows with NumPy's. The program's text shows which transport runs each collective: over
    MPI, every one (in groups too) is one of the transport's callbacks and XLA runs none (no
    gloo); without MPI, XLA runs all but the all-reduces' in-process part (several devices per
    process). Returns (cases, callback sites of the program over the whole axis)."""
    whole = [(case, dtype, None) for case in CASES for dtype in case.dtypes]
    grouped = [(case, case.dtypes[0], groups_for(N)) for case in CASES if case.grouped
               if N in (4, 8)]
    text = run_cases(whole)
    grouped_text = run_cases(grouped) if grouped else ""
    chosen = cross_process_transport(spmd.devices())
    over_mpi = chosen is not None and chosen.between_processes == "mpi"
    want = expected_sites(whole, over_mpi) if chosen is not None else {}
    assert sites_in(text) == want, (sites_in(text), want)
    assert bool(XLA_COLLECTIVE.search(text)) != over_mpi, "XLA collectives under MPI" \
        if over_mpi else "no XLA collective without MPI"
    if over_mpi and grouped:  # in axis_index_groups too (the world's or sub-communicators)
        assert sites_in(grouped_text) == expected_sites(grouped, True), grouped_text
        assert not XLA_COLLECTIVE.search(grouped_text), grouped_text
    return len(whole) + len(grouped), sum(want.values())


def run_cases(specs) -> str:
    """Run the cases in one program, checked against NumPy; returns its program text."""
    stacked = [inputs(case, N, dtype, groups) for case, dtype, groups in specs]

    def every_case(*xs):
        return tuple(case.fun(x, "i", groups) for x, (case, _, groups) in zip(xs, specs))
    f = spmd.pmap(every_case, axis_name="i")
    mine = [X[MINE] for X in stacked]
    outs = f(*mine)
    for out, X, (case, dtype, groups) in zip(outs, stacked, specs):
        try:
            assert_close(out, case.oracle(X, groups)[MINE])
        except AssertionError as e:
            raise AssertionError(f"{case} {np.dtype(dtype).name} groups={groups}: {e}") from None
    return f.lower(*mine).as_text()


def check_mapping():
    X = np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3)
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    # a broadcast argument and a replicated (out_axes=None) result
    f = spmd.pmap(lambda x, w: (x @ w, lax.psum(x, "i")), "i", in_axes=(0, None),
                  out_axes=(0, None))
    y, total = f(X[MINE], w)
    assert_close(y, (X @ w)[MINE])
    assert total.shape == (2, 3) and total.is_replicated
    assert_close(total, X.sum(0))
    # a mapped axis other than the first, in and out
    g = spmd.pmap(lambda x: lax.all_gather(x, "i", axis=0, tiled=True) * 2, "i", in_axes=1,
                  out_axes=1)
    XT = np.moveaxis(X, 0, 1)  # (2, N, 3): the devices along axis 1
    assert_close(g(XT[:, MINE]), np.stack([2 * X.reshape(2 * N, 3)] * L, axis=1))
    # results stay on the devices and feed the next call, donated
    step = spmd.pmap(lambda x: lax.pmean(x, "i") + lax.axis_index("i"), "i", donate_argnums=0)
    x, want = X[MINE], X.copy()
    for _ in range(4):
        x = step(x)
        want = want.mean(0) + np.arange(N, dtype=np.float32)[:, None, None]
    assert_close(x, want[MINE], rtol=1e-6)
    assert sorted(d.id for d in x.sharding_devices) == sorted(d.id for d in spmd.local_devices())
    # grad of a pmap: the cotangents of every process's outputs meet in the transposed psum
    h = spmd.pmap(lambda v: lax.psum(v * v, "i"), "i")
    assert_close(spmd.grad(lambda v: jnp.sum(h(v)))(X[MINE]), 2 * N * X[MINE])
    # a constant that differs between processes is not a different program
    c = spmd.pmap(lambda v: v * (me + 1) + lax.psum(v, "i"), "i")
    assert_close(c(X[MINE]), X[MINE] * (me + 1) + X.sum(0))
    # a map over this process's devices alone: its collectives stay within the process
    local = spmd.pmap(lambda v: lax.psum(v, "i"), "i", devices=spmd.local_devices())
    assert_close(local(X[MINE]), np.broadcast_to(X[MINE].sum(0), (L, 2, 3)))


def check_helpers():
    X = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
    f = spmd.pmap(lambda x: (x * 2, lax.psum(x, "i")), "i", out_axes=(0, None))
    doubled, total = f(X[MINE])
    np.testing.assert_array_equal(spmd.distributed.process_allgather(doubled, tiled=True), 2 * X)
    np.testing.assert_array_equal(spmd.distributed.process_allgather(doubled),
                                  (2 * X).reshape(P, L, 3))
    spmd.distributed.assert_equal({"total": total}, "a psum")
    expect_error(AssertionError, r"^per process: leaf 0 differs between processes: process 0 "
                                 r"has \[\[\s*0\.\s+2\.\s+4\.\]",
                 spmd.distributed.assert_equal, doubled, "per process")
    got = spmd.distributed.broadcast_one_to_all({"mine": doubled, "total": total,
                                                 "scalar": jnp.float32(me)})
    np.testing.assert_array_equal(got["mine"], 2 * X[:L])  # process 0's rows
    np.testing.assert_array_equal(got["total"], X.sum(0))
    assert got["scalar"] == 0.0
    spmd.distributed.sync_global_devices("helpers checked")


# ---------------------------------------------------------------- data-parallel training
SIZES, PER_DEVICE, STEPS, LR = (5, 8, 3), 4, 4, 0.1


def init_params(seed):
    rng = np.random.default_rng(seed)
    return [{"w": rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(m),
             "b": rng.standard_normal(n).astype(np.float32) * 0.1}
            for m, n in zip(SIZES[:-1], SIZES[1:])]


def global_batch(step):
    rng = np.random.default_rng(1000 + step)
    x = rng.standard_normal((N * PER_DEVICE, SIZES[0])).astype(np.float32)
    return x, rng.integers(0, SIZES[-1], N * PER_DEVICE).astype(np.int32)


def loss_fn(params, x, labels):
    h = jnp.tanh(x @ params[0]["w"] + params[0]["b"])
    logp = spmd.nn.log_softmax(h @ params[1]["w"] + params[1]["b"])
    return -jnp.mean(jnp.sum(spmd.nn.one_hot(labels, SIZES[-1]) * logp, axis=-1))


def sgd(params, grads):
    return spmd.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)


def device_step(params, x, labels):
    loss, grads = spmd.value_and_grad(loss_fn)(params, x, labels)
    return sgd(params, lax.pmean(grads, "batch")), lax.pmean(loss, "batch")


@spmd.jit
def whole_batch_step(params, x, labels):  # the oracle: one device, the whole global batch
    loss, grads = spmd.value_and_grad(loss_fn)(params, x, labels)
    return sgd(params, grads), loss


def check_training():
    # every process draws its own initial values; process 0's reach everyone
    params = spmd.distributed.broadcast_one_to_all(init_params(seed=me))
    assert_close(params, init_params(seed=0))
    step = spmd.pmap(device_step, axis_name="batch", donate_argnums=0)
    replicated = spmd.device_put_replicated(params, spmd.local_devices())
    want = params
    for i in range(STEPS):
        x, labels = global_batch(i)
        rows = slice(me * L * PER_DEVICE, (me + 1) * L * PER_DEVICE)
        replicated, loss = step(replicated, x[rows].reshape(L, PER_DEVICE, -1),
                                labels[rows].reshape(L, PER_DEVICE))
        want, want_loss = whole_batch_step(want, x, labels)
        assert_close(loss, np.full(L, float(want_loss), np.float32), rtol=1e-5, atol=1e-6)
    if transport() == "mpi":  # the whole step's collectives over MPI: none left to gloo
        text = step.lower(replicated, x[rows].reshape(L, PER_DEVICE, -1),
                          labels[rows].reshape(L, PER_DEVICE)).as_text()
        assert "spmd_mpi_all_reduce" in text and not XLA_COLLECTIVE.search(text), text
    final = spmd.data.unreplicate(replicated)
    assert_close(final, spmd.tree_util.tree_map(np.asarray, want), rtol=1e-5, atol=1e-6)
    spmd.distributed.assert_equal(final, "trained parameters")  # bit for bit on every process


def check_control_flow():
    """Collectives in a fori_loop body (the program's first), a scan body, a while loop's cond
    and body and a branch of cond; with an MPI world every one over MPI (the loops and the
    branch carry the callbacks' chain), none of XLA's (gloo) left."""
    X = np.random.default_rng(5).standard_normal((N, 4)).astype(np.float32)

    def step(v):
        first = lax.fori_loop(0, 2, lambda i, c: c + lax.psum(v, "i"), jnp.zeros_like(v))

        def body(carry, _):
            return carry + lax.psum(v, "i"), None
        total, _ = lax.scan(body, first, None, length=3)
        _, maxes = lax.while_loop(lambda s: lax.psum(s[0], "i") < 2 * N,
                                  lambda s: (s[0] + 1, s[1] + lax.pmax(v, "i")),
                                  (0, jnp.zeros_like(v)))
        least = lax.cond(total[0] > -1e30, lambda u: lax.pmin(u, "i"), lambda u: u, v)
        return total, maxes, least
    f = spmd.pmap(step, axis_name="i")
    want = (5 * X.sum(0), 2 * X.max(0), X.min(0))
    for out, expected in zip(f(X[MINE]), want):
        assert_close(out, np.broadcast_to(expected, (L, 4)), rtol=1e-5, atol=1e-5)
    if transport() == "mpi":
        text = f.lower(X[MINE]).as_text()
        # (and the call-order check's own, first: it cannot ride in a loop body's callback)
        checks = int(bool(spmd.config.check_call_order))
        assert not XLA_COLLECTIVE.search(text), text
        assert sites_in(text) == {"all_reduce": 5 + checks}, text


def check_groups():
    """psum, pmean and pmax over axis_index_groups that span processes (evens and odds; the
    halves; one device against the rest, groups of two sizes) against NumPy; with an MPI world
    over MPI (the world or a sub-communicator of the processes a group spans), none of XLA's."""
    X = np.random.default_rng(7).standard_normal((N, 3)).astype(np.float32)
    alternate = [list(range(0, N, 2)), list(range(1, N, 2))] if N > 2 else [[1], [0]]
    halves = [list(range(N // 2)), list(range(N // 2, N))]
    alone = [[0], list(range(1, N))]

    def oracle(reduce, groups):
        out = np.empty_like(X)
        for g in groups:
            out[g] = reduce(X[g], axis=0)
        return out
    f = spmd.pmap(lambda v: (lax.psum(v, "i", axis_index_groups=alternate),
                             lax.pmean(v, "i", axis_index_groups=halves),
                             lax.pmax(v, "i", axis_index_groups=alone)), axis_name="i")
    want = (oracle(np.sum, alternate), oracle(np.mean, halves), oracle(np.max, alone))
    for out, expected in zip(f(X[MINE]), want):
        assert_close(out, expected[MINE], rtol=1e-5, atol=1e-6)
    if transport() == "mpi":
        text = f.lower(X[MINE]).as_text()
        assert not XLA_COLLECTIVE.search(text) and sites_in(text) == {"all_reduce": 3}, text


def transport() -> str:
    chosen = cross_process_transport(spmd.devices())
    return "gloo" if chosen is None else chosen.between_processes


def check_gloo_on_request():
    """A job that would reduce over MPI can be told to use gloo (for pmaps compiled after)."""
    spmd.config.update("cross_process_collectives", "gloo")
    assert transport() == "gloo"
    X = np.random.default_rng(6).standard_normal((N, 3)).astype(np.float32)
    out = spmd.pmap(lambda x: lax.pmax(lax.psum(x, "i"), "i"), "i")(X[MINE])
    assert_close(out, np.broadcast_to(X.sum(0), (L, 3)), rtol=1e-5, atol=1e-5)
    spmd.config.update("cross_process_collectives", "auto")


def check_errors():
    X = np.ones((L + 1, 3), np.float32)
    expect_error(ValueError, rf"pmap in a job of {P} processes maps over all {N} devices of the "
                             rf"job.*must have size {L}, but it has size {L + 1}",
                 spmd.pmap(lambda x: x, "i"), X)

    def mismatch(x):
        return lax.psum(x, "i")
    expect_error(RuntimeError, rf"^the pmap program differs between processes: process {me} has "
                               rf"mismatch\(f32\[{L},{2 + me}\]\) -> \(f32\[{L},{2 + me}\]\) "
                               rf"program \w+ but process {other} has mismatch\(f32\[{L},"
                               rf"{2 + other}\]\) -> \(f32\[{L},{2 + other}\]\) program \w+$",
                 spmd.pmap(mismatch, "i"), np.ones((L, 2 + me), np.float32))

    def same_types(x):  # the same name and types, a different collective on process 0
        return lax.pmax(x, "i") if me == 0 else lax.psum(x, "i")
    expect_error(RuntimeError, r"^the pmap program differs between processes: process \d has "
                               rf"same_types\(f32\[{L},3\]\) -> \(f32\[{L},3\]\) program (\w+) "
                               r"but process \d has same_types\(f32\[.*program (?!\1)\w+$",
                 spmd.pmap(same_types, "i"), np.ones((L, 3), np.float32))
    if mpi_communicator() is None:  # gloo was asked for before initialize(): no MPI world
        spmd.config.update("cross_process_collectives", "mpi")
        expect_error(RuntimeError, r"cross_process_collectives='mpi' needs a job with an MPI "
                                   r"world whose pmap spans every rank: one started by mpirun or "
                                   r"mpiexec \(spmd-run --mpi\), or one whose processes formed "
                                   r"it at spmd.distributed.initialize\(\)",
                     spmd.pmap(lambda x: lax.psum(x, "i"), "i"), np.ones((L, 3), np.float32))
        spmd.config.update("cross_process_collectives", "auto")
    # a pmap inside jit (or control flow) or inside another pmap would need the other
    # processes' devices from one compiled program: refused before anything runs
    expect_error(NotImplementedError, r"pmap \(<lambda>\) inside jit, cond, fori_loop or scan "
                                      r"in a job of several processes is not supported",
                 spmd.jit(spmd.pmap(lambda x: x * 2, "i")), np.ones((L, 3), np.float32))
    expect_error(NotImplementedError, r"nested pmap \(<lambda> inside another pmapped function\) "
                                      r"in a job of several processes is not supported",
                 spmd.pmap(lambda x: spmd.pmap(lambda y: y)(x), "i"), np.ones((L, 1), np.float32))
    # still in step: the next cross-process pmap runs
    total = spmd.pmap(lambda x: lax.psum(x, "i"), "i")(np.ones((L, 3), np.float32))
    assert_close(total, np.full((L, 3), N, np.float32))


count, through_callbacks = check_collectives()
check_mapping()
check_helpers()
check_training()
check_control_flow()
check_groups()
check_errors()
over = transport()
check_gloo_on_request()
print(f"process {me} of {P}: {N} devices, {L} local: all pmap checks passed "
      f"({count} collective cases, {through_callbacks} through the transport's callbacks; "
      f"all-reduce between processes over {over})", flush=True)
print(f"process {me} ran on host {socket.gethostname()}", flush=True)
