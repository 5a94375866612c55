"""Issue 6 benchmarks: pmap across processes on 127.0.0.1, one CPU device per process.

    python bench_multiprocess.py            # the driver: starts every job below, prints all

1. allreduce (under `spmd-run --mpi`, 2 and 4 processes): a cross-process psum of 16 MiB per
   process (pmap over the job's devices, device-resident input, each call waited for), over
   MPI (the default under mpiexec) and over gloo, against raw mpi4py Allreduce of the same
   16 MiB NumPy buffers, interleaved round by round. The goal is >= 0.8 of MPI's bandwidth,
   i.e. MPI's time / psum's time >= 0.8.
2. train (under `spmd-run` and `spmd-run --mpi`, 1, 2 and 4 processes): the data-parallel step
   of benchmarks/mlp.py (784-512-512-10, value_and_grad + pmean + SGD, parameters donated and
   kept on the devices), 128 examples per process (the global batch grows with the job), in
   a loop that never waits (spmd bounds the steps in flight).

3. mpi_callback (under `spmd-run --mpi`, 2 processes; issue 6 item 5, measured before building
   it): would cross-process reductions run faster over MPI from inside the compiled program?
   One 2-replica all_reduce program of 16 MiB per process through gloo, against programs whose
   only op is a host callback that runs mpi4py Allreduce: jaxlib's copying Python callback
   (xla_ffi_python_cpu_callback: arguments and result copied), its zero-copy buffer callback
   (xla_buffer_python_cpu_callback: MPI reads and writes XLA's buffers in place), the copying
   callback's own cost (it returns its argument), and raw mpi4py.

4. gloo_local_first (under `spmd-run`, 2 processes x 4 devices, no MPI): small psums as one
   XLA all_reduce over all 8 devices against the in-process reduction first (gloo_after_local).

5. call_order_check (under `spmd-run` over gloo, and `spmd-run --mpi` over MPI, 2 processes x
   1 device; issue 14 item 2): the per-call check that every process runs the same program at
   the same call (spmd/pmap_call_order.py), on against off, interleaved: a 4 KB psum step, and
   the train step of 2. (10 steps without waiting, then one wait). Goal: at most 5% slower with
   the check.

6. psum_4kb (under `spmd-run` and `spmd-run --mpi`, 2 processes x 1 device; issue 15): a 4 KB
   psum over MPI in the world the processes formed through the coordinator (spmd-run) and in
   mpiexec's, each against gloo and raw mpi4py Allreduce on the same world.

7. all_gather (under `spmd-run`, 2 processes x 1 device; issue 15): all_gather over MPI in the
   world the processes formed through the coordinator, against raw mpi4py Allgather of the same
   NumPy buffers and against gloo, interleaved: a 16 MiB result (8 MiB per process), and 16 MiB
   per process (a 32 MiB result). Goal: within 1.2x of mpi4py's time.

8. example (from here, not inside a job; issue 15): examples/train_data_parallel.py, 2
   processes x 4 devices, under `spmd-run` (the world formed through the coordinator),
   `spmd-run --ray` (the same, on a local Ray in a private network namespace) and `spmd-run
   --mpi` (mpiexec's world), the three launches alternated for 3 rounds: each launch's median
   examples/s of its epochs after the first (which compiles). Goal: `spmd-run` and `--ray`
   each >= 0.8x of `--mpi` in the same round.

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
    over_mpi = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")  # the default under mpiexec
    on_devices = spmd.pmap(lambda v: v, axis_name="i")(x)  # resident: time the collective only
    send, recv = x[0].copy(), np.empty_like(x[0])
    comm.Allreduce(send, recv, op=MPI.SUM)
    over_gloo = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")

    def check(psum):  # the first call compiles, with the transport configured then
        np.testing.assert_allclose(np.asarray(psum(on_devices))[0], recv, rtol=1e-5,
                                   atol=1e-5)  # another order of summation
    spmd.config.update("cross_process_collectives", "gloo")
    check(over_gloo)
    spmd.config.update("cross_process_collectives", "auto")
    check(over_mpi)
    rows = interleaved({
        "spmd psum (MPI)": lambda: over_mpi(on_devices).block_until_ready(),
        "spmd psum (gloo)": lambda: over_gloo(on_devices).block_until_ready(),
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
        for name in ("spmd psum (MPI)", "spmd psum (gloo)"):
            goal(f"MPI time / {name} time (its share of MPI's bandwidth)",
                 t["mpi4py Allreduce"] / t[name], 0.8, higher_is_better=True)


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


def mpi_callback():
    from mpi4py import MPI

    import spmd
    spmd.distributed.initialize()
    from common import interleaved, report
    from spmd.transforms import backend
    from spmd.transforms.core import ShapedArray

    comm, me, n = MPI.COMM_WORLD, spmd.process_index(), spmd.process_count()
    everyone, local = backend.devices(), backend.local_devices()
    t = f"tensor<1x{MIB16}xf32>"
    head = (f"module @m attributes {{mhlo.num_replicas = {n} : i32, mhlo.num_partitions = 1 : "
            f"i32}} {{ func.func public @main(%x: {t}) -> {t} {{")
    groups = f"dense<[[{', '.join(map(str, range(n)))}]]> : tensor<1x{n}xi64>"
    gloo = head + f"""
      %0 = "stablehlo.all_reduce"(%x) ({{ ^bb0(%a: tensor<f32>, %b: tensor<f32>):
          %s = stablehlo.add %a, %b : tensor<f32>
          stablehlo.return %s : tensor<f32> }}) {{replica_groups = {groups}}} : ({t}) -> {t}
      return %0 : {t} }} }}"""

    def callback(target):
        return head + f"""
      %0 = stablehlo.custom_call @{target}(%x) {{api_version = 4 : i32, has_side_effect = true,
          backend_config = {{index = 0 : ui64}}}} : ({t}) -> {t}
      return %0 : {t} }} }}"""
    result = np.empty((1, MIB16), np.float32)  # reused: no fresh pages per call

    def copying(x):
        comm.Allreduce(x, result, op=MPI.SUM)
        return (result,)

    def in_place(ctx, x, out):  # inputs, then outputs, as XLA's own buffers
        comm.Allreduce(np.asarray(x), np.asarray(out), op=MPI.SUM)
        return ()
    aval = ShapedArray((1, MIB16), np.float32)
    shardings = [backend.stacked_sharding(local, 2)]
    programs = {
        "gloo all_reduce": backend.compile(gloo, [aval], everyone, shardings),
        "callback + mpi4py": backend.compile(callback("xla_ffi_python_cpu_callback"), [aval],
                                             everyone, shardings, host_callbacks=[copying]),
        "buffer callback + mpi4py": backend.compile(
            callback("xla_buffer_python_cpu_callback"), [aval], everyone, shardings,
            host_callbacks=[in_place]),
        "callback alone (copies)": backend.compile(
            callback("xla_ffi_python_cpu_callback").replace("@m ", "@copy "), [aval], everyone,
            shardings, host_callbacks=[lambda x: (x,)]),
    }
    x = backend.device_put_sharded([np.full((1, MIB16), me + 1, np.float32)], aval, local)
    send, recv = np.full(MIB16, me + 1, np.float32), np.empty(MIB16, np.float32)

    def run(exe):
        return exe.run_with_token([x])[0][0].block_until_ready()
    for name, exe in programs.items():
        if name != "callback alone (copies)":
            got = backend.to_numpy(run(exe), np.float32)
            assert np.all(got == n * (n + 1) / 2), (name, got[0, :4])
    fns = {name: (lambda exe=exe: run(exe)) for name, exe in programs.items()}
    fns["mpi4py Allreduce"] = lambda: comm.Allreduce(send, recv, op=MPI.SUM)
    rows = interleaved(fns, rounds=15, calls=3, warmup=2)
    if me == 0:
        report(f"16 MiB allreduce inside a compiled program, {n} processes x 1 device", rows,
               "mpi4py Allreduce")


def gloo_local_first():
    """Without MPI, 4 devices per process: small psums lowered as one XLA all_reduce over all
    devices (gloo between every device) against the in-process reduction in a host callback
    followed by XLA's all_reduce between the processes only (gloo_after_local), interleaved."""
    import spmd
    spmd.distributed.initialize()
    from common import interleaved, report
    from spmd import lax, pmap_program

    chosen = pmap_program.cross_process_transport
    x = np.ones((spmd.local_device_count(), 1000), np.float32)
    on_devices = spmd.pmap(lambda v: v, axis_name="i")(x)
    fns = {}
    for name, transport in (("one all_reduce over all devices", lambda devices: None),
                            ("in-process first", chosen)):
        pmap_program.cross_process_transport = transport  # read when a pmap compiles
        one = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
        seven = spmd.pmap(lambda v: [lax.psum(v * k, "i") for k in range(7)], axis_name="i")
        n = spmd.device_count()
        np.testing.assert_allclose(np.asarray(one(on_devices)), np.full(x.shape, n))
        np.testing.assert_allclose(np.asarray(seven(on_devices)[3]), np.full(x.shape, 3 * n))
        fns[f"1 psum, {name}"] = lambda f=one: f(on_devices).block_until_ready()
        fns[f"7 psums, {name}"] = lambda f=seven: [a.block_until_ready() for a in f(on_devices)]
    pmap_program.cross_process_transport = chosen
    rows = interleaved(fns, rounds=9, calls=10, warmup=2)
    if spmd.process_index() == 0:
        report(f"4 KB psums, {spmd.process_count()} processes x {spmd.local_device_count()} "
               "devices, no MPI", rows, "1 psum, one all_reduce over all devices")


def call_order_check():
    import spmd
    transport = "MPI" if "PMI_RANK" in os.environ else "gloo"
    if transport == "gloo":  # else spmd-run's processes form an MPI world (issue 15)
        spmd.config.update("cross_process_collectives", "gloo")
    spmd.distributed.initialize()
    import mlp
    from common import interleaved, order_check_goals, report, ten_steps
    from spmd import lax

    me = spmd.process_index()
    loss, _ = mlp.make(spmd)
    x4k = spmd.pmap(lambda v: v, axis_name="i")(np.ones((spmd.local_device_count(), 1000),
                                                           np.float32))
    xs, ys = (a[None] for a in mlp.batch(seed=1 + me))
    params0 = spmd.distributed.broadcast_one_to_all(mlp.init())
    fns = {}
    for check in (False, True):
        spmd.config.update("check_call_order", check)  # read when a program compiles
        side = "check on" if check else "check off"
        psum = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
        np.testing.assert_allclose(np.asarray(psum(x4k)), spmd.device_count())

        def device_step(params, x, y):
            value, grads = spmd.value_and_grad(loss)(params, x, y)
            grads = lax.pmean(grads, "batch")
            return spmd.tree_util.tree_map(lambda p, g: p - mlp.LEARNING_RATE * g, params,
                                           grads), lax.pmean(value, "batch")
        step = spmd.pmap(device_step, axis_name="batch", donate_argnums=0)
        state = {"p": step(spmd.device_put_replicated(params0, spmd.local_devices()),
                           xs, ys)[0]}
        fns[f"4 KB psum, {side}"] = lambda f=psum: f(x4k).block_until_ready()
        fns[f"train x10, {side}"] = ten_steps(step, state, xs, ys)
    spmd.config.update("check_call_order", True)
    rows = interleaved(fns, rounds=15, calls=20, warmup=3)
    if me == 0:
        report(f"per-call order check, {spmd.process_count()} processes x "
               f"{spmd.local_device_count()} device, over {transport}", rows)
        order_check_goals(rows, ("4 KB psum", "train x10"), f" ({transport})")


def psum_4kb():
    """Issue 15: a 4 KB psum between 2 processes over MPI, in a world that mpiexec formed
    (spmd-run --mpi) or that the processes formed through the coordinator (spmd-run), against
    gloo and raw mpi4py Allreduce on the same world, interleaved."""
    import spmd
    spmd.distributed.initialize()
    from common import interleaved, report
    from mpi4py import MPI

    from spmd import lax
    from spmd.cluster.distributed import mpi_communicator
    comm, me, n = mpi_communicator(), spmd.process_index(), spmd.process_count()
    x = np.full((1, 1024), me + 1, np.float32)
    on_devices = spmd.pmap(lambda v: v, axis_name="i")(x)
    send, recv = x[0].copy(), np.empty_like(x[0])
    psums = {}
    for transport in ("gloo", "auto"):  # the transport is chosen when a pmap first compiles
        spmd.config.update("cross_process_collectives", transport)
        psums[transport] = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
        assert (np.asarray(psums[transport](on_devices)) == n * (n + 1) / 2).all()
    rows = interleaved({
        "spmd psum (MPI)": lambda: psums["auto"](on_devices).block_until_ready(),
        "spmd psum (gloo)": lambda: psums["gloo"](on_devices).block_until_ready(),
        "mpi4py Allreduce": lambda: comm.Allreduce(send, recv, op=MPI.SUM),
    }, rounds=15, calls=50, warmup=20)
    if me == 0:
        launcher = "mpiexec" if "PMI_RANK" in os.environ else "spmd-run, world via coordinator"
        report(f"psum of 4 KB float32 per process, {n} processes x 1 device ({launcher})", rows,
               "mpi4py Allreduce", unit="us")


def all_gather():
    import spmd
    spmd.distributed.initialize()
    for per_process in (MIB16 // spmd.process_count(), MIB16):
        _all_gather_side_by_side(spmd, per_process)


def _all_gather_side_by_side(spmd, per_process: int):
    from common import goal, interleaved, report

    from spmd import lax
    from spmd.cluster.distributed import mpi_communicator
    comm, me, n = mpi_communicator(), spmd.process_index(), spmd.process_count()
    x = np.random.default_rng(me).standard_normal((1, per_process)).astype(np.float32)
    on_devices = spmd.pmap(lambda v: v, axis_name="i")(x)
    send, recv = x[0].copy(), np.empty((n, per_process), np.float32)
    comm.Allgather(send, recv)
    gathers = {}
    for transport in ("gloo", "auto"):  # the transport is chosen when a pmap first compiles
        spmd.config.update("cross_process_collectives", transport)
        gathers[transport] = spmd.pmap(lambda v: lax.all_gather(v, "i"), axis_name="i")
        np.testing.assert_array_equal(np.asarray(gathers[transport](on_devices))[0], recv)
    rows = interleaved({
        "spmd all_gather (MPI)": lambda: gathers["auto"](on_devices).block_until_ready(),
        "spmd all_gather (gloo)": lambda: gathers["gloo"](on_devices).block_until_ready(),
        "mpi4py Allgather": lambda: comm.Allgather(send, recv),
    }, rounds=15, calls=5, warmup=3)
    if me == 0:
        mib = n * per_process * 4 / 2 ** 20
        report(f"all_gather of {mib:g} MiB float32 ({mib / n:g} MiB per process), {n} "
               f"processes x 1 device (spmd-run, world via coordinator)", rows,
               "mpi4py Allgather")
        t = dict(rows)
        goal(f"all_gather over MPI / mpi4py Allgather ({mib:g} MiB)",
             t["spmd all_gather (MPI)"] / t["mpi4py Allgather"], 1.2)


EXAMPLE_LAUNCHES = {"spmd-run": [], "spmd-run --ray": ["--ray"], "spmd-run --mpi": ["--mpi"]}


def example(rounds: int = 3, epochs: int = 5) -> None:
    import re
    import statistics
    from common import goal, machine
    print(f"# the example, 2 processes x 4 devices, {epochs} epochs, on {machine()}")
    script = os.path.join(os.path.dirname(HERE), "examples", "train_data_parallel.py")
    speeds: dict[str, list[float]] = {launch: [] for launch in EXAMPLE_LAUNCHES}
    for r in range(rounds):
        for launch, flags in EXAMPLE_LAUNCHES.items():
            command = [sys.executable, "-m", "spmd.launch", "-n", "2", *flags, "--cpu-devices",
                       "4", script, "--epochs", str(epochs), "--checkpoint-dir", ""]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                  cwd=os.path.dirname(HERE),
                                  env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{' '.join(command)} failed with {done.returncode}")
            per_epoch = [float(v.replace(",", "")) for v in re.findall(
                r"^\[0\] epoch .* ([\d,]+) examples/s$", done.stdout, re.M)][1:]
            speeds[launch].append(statistics.median(per_epoch))
            print(f"  round {r + 1} {launch:15s} {speeds[launch][-1]:9,.0f} examples/s "
                  f"(epochs after the first: {', '.join(f'{v:,.0f}' for v in per_epoch)}; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
    for launch in ("spmd-run", "spmd-run --ray"):
        ratios = [a / b for a, b in zip(speeds[launch], speeds["spmd-run --mpi"])]
        print(f"  {launch} / spmd-run --mpi, by round: {', '.join(f'{v:.2f}' for v in ratios)}")
        goal(f"{launch} / spmd-run --mpi examples/s (median of the rounds)",
             statistics.median(ratios), 0.8, higher_is_better=True)


def _job(n: int, mpi: bool, section: str, devices: int = 1) -> None:
    command = [sys.executable, "-m", "spmd.launch", "-n", str(n), *(["--mpi"] if mpi else []),
               "--cpu-devices", str(devices), os.path.abspath(__file__), section]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(HERE),
                          env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    lines = [line[4:] for line in done.stdout.splitlines()
             if line.startswith("[0] ") and not line.startswith("[0] [Gloo]")]
    print("\n".join(lines), flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(command)} failed with {done.returncode}")


def driver():
    from common import machine
    print(f"# bench_multiprocess on {machine()}")
    for n in (2, 4):
        _job(n, True, "allreduce")
    _job(2, True, "mpi_callback")
    _job(2, False, "gloo_local_first", devices=4)
    print("\n## data-parallel MLP train step (784-512-512-10), 128 examples per process")
    for n in (1, 2, 4):
        _job(n, False, "train")
    for n in (2, 4):
        _job(n, True, "train")
    _job(2, False, "call_order_check")
    _job(2, True, "call_order_check")
    _job(2, False, "psum_4kb")
    _job(2, True, "psum_4kb")
    _job(2, False, "all_gather")


if __name__ == "__main__":
    SECTIONS = {"allreduce": allreduce, "train": train, "mpi_callback": mpi_callback,
                "gloo_local_first": gloo_local_first, "call_order_check": call_order_check,
                "psum_4kb": psum_4kb, "all_gather": all_gather, "example": example}
    SECTIONS.get(sys.argv[1] if len(sys.argv) > 1 else "", driver)()
