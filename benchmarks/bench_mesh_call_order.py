"""Issue 14 item 2 for jit over a mesh spanning processes: the cost of the per-call order check
(transforms/partitioned_call_order.py), on against off, interleaved in one job:

    spmd-run -n 2 --cpu-devices 1 benchmarks/bench_mesh_call_order.py

- a 4 KB sum step: each process's 1000 float32 (a (2, 1000) array over ('batch',)) summed over
  the processes (one all-reduce), each call waited for;
- the data-parallel train step of benchmarks/mlp.py with NamedSharding (784-512-512-10,
  replicated parameters donated, 128 examples per process): 10 steps, then one wait.
Goal (as pmap's, benchmarks/bench_multiprocess.py): at most 5% slower with the check."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spmd  # noqa: E402

spmd.distributed.initialize()

import mlp  # noqa: E402
import spmd.numpy as jnp  # noqa: E402
from common import interleaved, order_check_goals, report, ten_steps  # noqa: E402
from spmd.sharding import NamedSharding, PartitionSpec as P  # noqa: E402


def main():
    me, n = spmd.process_index(), spmd.process_count()
    mesh = spmd.make_mesh((spmd.device_count(),), ("batch",))
    rows, replicated = NamedSharding(mesh, P("batch")), NamedSharding(mesh, P())
    L = spmd.local_device_count()
    x4k = spmd.make_array_from_process_local_data(rows, np.ones((L, 1000), np.float32))
    loss, _ = mlp.make(spmd)
    xs, ys = mlp.batch(seed=1 + me)
    x = spmd.make_array_from_process_local_data(rows, xs)
    y = spmd.make_array_from_process_local_data(rows, ys)
    params0 = spmd.device_put(spmd.distributed.broadcast_one_to_all(mlp.init()), replicated)
    fns = {}
    for check in (False, True):
        spmd.config.update("check_call_order", check)  # read when a program is built
        side = "check on" if check else "check off"

        def summed(v):
            return jnp.sum(v, axis=0)
        summed.__name__ = f"summed_{side[6:]}"  # two programs, not one from the cache
        total = spmd.jit(summed, out_shardings=replicated)
        np.testing.assert_allclose(np.asarray(total(x4k)), spmd.device_count())

        def sgd(params, x, y):
            value, grads = spmd.value_and_grad(loss)(params, x, y)
            return spmd.tree_util.tree_map(lambda p, g: p - mlp.LEARNING_RATE * g, params,
                                           grads), value
        sgd.__name__ = f"sgd_{side[6:]}"
        step = spmd.jit(sgd, donate_argnums=0, out_shardings=(replicated, replicated))
        state = {"p": step(spmd.tree_util.tree_map(lambda a: a + 0, params0), x, y)[0]}
        fns[f"4 KB sum, {side}"] = lambda f=total: f(x4k).block_until_ready()
        fns[f"train x10, {side}"] = ten_steps(step, state, x, y)
    spmd.config.update("check_call_order", True)
    timed = interleaved(fns, rounds=11, calls=10, warmup=3)
    if me == 0:
        report(f"per-call order check of jit over a mesh, {n} processes x {L} device(s), "
               f"load {os.getloadavg()[0]:.1f}", timed)
        order_check_goals(timed, ("4 KB sum", "train x10"))


main()
