"""Issue 6 benchmarks: pmap across processes on 127.0.0.1, one CPU device per process.

    python bench_multiprocess.py            # the driver: starts every job below, prints all

1. allreduce (under `spmd-run --mpi`, 2 and 4 processes): a cross-process psum of 16 MiB per
   process (pmap over the job's devices, device-resident input, each call waited for) against
   raw mpi4py Allreduce of the same 16 MiB NumPy buffers, interleaved round by round. The goal
   is >= 0.8 of MPI's bandwidth, i.e. MPI's time / psum's time >= 0.8.
2. train (under `spmd-run` and `spmd-run --mpi`, 1, 2 and 4 processes): the data-parallel step
   of benchmarks/mlp.py (784-512-512-10, value_and_grad + pmean + SGD, parameters donated and
   kept on the devices), 128 examples per process (the global batch grows with the job), in
   a loop that never waits (spmd bounds the steps in flight).

Run one job by hand: spmd-run -n 2 --mpi --cpu-devices 1 bench_multiprocess.py allreduce
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MIB16 = 16 * 1024 * 1024 // 4  # float32 elements in 16 MiB
STEPS = 30


def allreduce():
    from mpi4py import MPI

    import spmd
    spmd.distributed.initialize()
    from common import interleaved, report
    from spmd import lax

    comm, me, n = MPI.COMM_WORLD, spmd.process_index(), spmd.process_count()
    x = np.random.default_rng(me).standard_normal((1, MIB16)).astype(np.float32)
    psum = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    on_devices = spmd.pmap(lambda v: v, axis_name="i")(x)  # resident: time the collective only
    send, recv = x[0].copy(), np.empty_like(x[0])
    np.testing.assert_allclose(np.asarray(psum(on_devices))[0],
                               (comm.Allreduce(send, recv, op=MPI.SUM), recv)[1], rtol=1e-5)
    rows = interleaved({
        "spmd psum (gloo)": lambda: psum(on_devices).block_until_ready(),
        "mpi4py Allreduce": lambda: comm.Allreduce(send, recv, op=MPI.SUM),
    }, rounds=15, calls=5, warmup=3)
    if me == 0:
        report(f"allreduce of 16 MiB float32 per process, {n} processes x 1 device", rows,
               "mpi4py Allreduce")
        t = dict(rows)
        bus = 2 * (n - 1) / n * MIB16 * 4 / 2**30  # GiB each process sends and receives
        for name, seconds in rows:
            print(f"  {name:28s} bus bandwidth {bus / seconds:6.2f} GiB/s")
        from common import goal
        goal("MPI time / psum time (psum's share of MPI's bandwidth)",
             t["mpi4py Allreduce"] / t["spmd psum (gloo)"], 0.8, higher_is_better=True)


def train():
    import spmd
    spmd.distributed.initialize()
    import collections
    import time

    import mlp
    from common import median_seconds
    from spmd import lax

    me, n = spmd.process_index(), spmd.process_count()
    loss, _ = mlp.make(spmd)

    def device_step(params, x, y):
        value, grads = spmd.value_and_grad(loss)(params, x, y)
        grads = lax.pmean(grads, "batch")
        new = spmd.tree_util.tree_map(lambda p, g: p - mlp.LEARNING_RATE * g, params, grads)
        return new, lax.pmean(value, "batch")

    step = spmd.pmap(device_step, axis_name="batch", donate_argnums=0)
    params = spmd.device_put_replicated(spmd.distributed.broadcast_one_to_all(mlp.init()),
                                        spmd.local_devices())
    x, y = mlp.batch(seed=1 + me)
    on_devices = spmd.pmap(lambda a, b: (a, b), axis_name="batch")
    xs, ys = on_devices(x[None], y[None])
    state = {"params": step(params, xs, ys)[0]}

    def loop():
        pending, p = collections.deque(), state["params"]
        for _ in range(STEPS):
            p, value = step(p, xs, ys)
            pending.append(value)
            if len(pending) > 2:
                pending.popleft().block_until_ready()
        value.block_until_ready()
        state["params"] = p
    start = time.perf_counter()
    per_step = median_seconds(loop, 5, warmup=1) / STEPS
    spmd.distributed.sync_global_devices("timed")
    if me == 0:
        launcher = "mpiexec" if "PMI_RANK" in os.environ else "spmd-run"
        print(f"  {n} process(es) ({launcher:8s}) step {per_step * 1e3:8.2f} ms, "
              f"{mlp.BATCH * n / per_step:9.0f} examples/s (global batch {mlp.BATCH * n}; "
              f"{time.perf_counter() - start:.1f} s)", flush=True)


def _job(n: int, mpi: bool, section: str) -> None:
    command = [sys.executable, "-m", "launch", "-n", str(n), *(["--mpi"] if mpi else []),
               "--cpu-devices", "1", os.path.abspath(__file__), section]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(HERE),
                          env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    lines = [line[4:] for line in done.stdout.splitlines() if line.startswith("[0] ")]
    print("\n".join(lines), flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(command)} failed with {done.returncode}")


def driver():
    from common import machine
    print(f"# bench_multiprocess on {machine()}")
    for n in (2, 4):
        _job(n, True, "allreduce")
    print("\n## data-parallel MLP train step (784-512-512-10), 128 examples per process")
    for n in (1, 2, 4):
        _job(n, False, "train")
    for n in (2, 4):
        _job(n, True, "train")


if __name__ == "__main__":
    {"allreduce": allreduce, "train": train}.get(sys.argv[1] if len(sys.argv) > 1 else "",
                                                 driver)()
