"""Issue 5 benchmarks, 8 CPU devices, side by side with jax 0.10.2's pmap where jax is installed
(the benchmark environment's peer):

1. psum of 1 MiB per device (device-resident input, each call waited for);
2. a data-parallel MLP train step, global batch 1024 over 8 devices (value_and_grad + pmean +
   SGD, parameters donated and kept on the devices);
3. pmap call overhead for a tiny program with device-resident inputs;
4. what spmd's bound on executions in flight costs: an unblocked loop of matmul + psum steps
   with the bound at 1, 2 and 4, against waiting for every step.

The unblocked JAX loops wait for the output of step k-2 before step k (what spmd does by
itself): without that, jax's pmap aborts on CPU after a few hundred steps of such a loop.
spmd and jax are timed side by side in interleaved rounds (`common.interleaved`), as in the
other benchmarks; the tables show medians over rounds.
"""
from __future__ import annotations

import collections
import statistics
import sys

import numpy as np

from common import (back_to_back, goal, interleaved, jax_available, machine, median_seconds,
                    report)

import spmd
import spmd.numpy as jnp
from spmd import lax
from spmd.transforms.config import config

N = 8
STEPS = 100


def _loop(step, params, x, y, bound):
    """STEPS train steps that never wait, except for the loss of step k - bound before step k."""
    pending = collections.deque()
    for _ in range(STEPS):
        params, loss = step(params, x, y)
        pending.append(loss)
        if len(pending) > bound:
            pending.popleft().block_until_ready()
    loss.block_until_ready()
    return params


def psum_1mib():
    x = np.random.default_rng(0).standard_normal((N, 262144)).astype(np.float32)
    f = spmd.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    xs = f(x)
    sides = {"spmd.pmap": lambda: f(xs).block_until_ready()}
    if jax_available():
        import jax
        g = jax.pmap(lambda v: jax.lax.psum(v, "i"), axis_name="i")
        xj = g(x)
        sides["jax.pmap"] = lambda: g(xj).block_until_ready()
    rows = interleaved(sides, rounds=21, calls=5, warmup=3)
    report("psum of 1 MiB per device, 8 devices", rows, "jax.pmap" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax time", rows[0][1] / rows[1][1], 1.0)


def _mlp(np_mod, lax_mod, value_and_grad, tree_map):
    def loss(params, x, y):
        h = np_mod.tanh(x @ params["w1"] + params["b1"])
        return np_mod.mean((h @ params["w2"] + params["b2"] - y) ** 2)

    def step(params, x, y):
        value, grads = value_and_grad(loss)(params, x, y)
        grads = lax_mod.pmean(grads, "i")
        return tree_map(lambda p, g: p - 0.01 * g, params, grads), lax_mod.pmean(value, "i")
    return step


def mlp_train_step():
    rng = np.random.default_rng(1)
    params = {"w1": rng.standard_normal((256, 512)) * 0.05, "b1": np.zeros(512),
              "w2": rng.standard_normal((512, 10)) * 0.05, "b2": np.zeros(10)}
    params = {k: np.broadcast_to(v.astype(np.float32), (N,) + v.shape) for k, v in params.items()}
    x = rng.standard_normal((N, 128, 256)).astype(np.float32)
    y = rng.standard_normal((N, 128, 10)).astype(np.float32)

    def per_step(pmapped, put):
        x_dev, y_dev = put(x), put(y)  # batches already on the devices: time the step itself
        p0 = pmapped(params, x_dev, y_dev)[0]
        state = {"params": p0}

        def run():
            state["params"] = _loop(pmapped, state["params"], x_dev, y_dev, 2)
        return run

    step = spmd.pmap(_mlp(jnp, lax, spmd.value_and_grad, spmd.tree_util.tree_map),
                     axis_name="i", donate_argnums=0)
    sides = {"spmd.pmap": per_step(step, spmd.pmap(lambda a: a))}
    if jax_available():
        import jax
        jstep = jax.pmap(_mlp(jax.numpy, jax.lax, jax.value_and_grad, jax.tree_util.tree_map),
                         axis_name="i", donate_argnums=0)
        sides["jax.pmap"] = per_step(jstep, jax.pmap(lambda a: a))
    rows = [(name, t / STEPS) for name, t in interleaved(sides, rounds=9)]
    report("MLP train step 256-512-10, global batch 1024 over 8 devices", rows,
           "jax.pmap" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax time per step", rows[0][1] / rows[1][1], 1.0)


CALLS = 200


def call_overhead():
    f = spmd.pmap(lambda v: v + 1)
    xs = f(np.zeros((N, 4), np.float32))
    sides = {"spmd.pmap": back_to_back(f, xs, CALLS)}
    if jax_available():
        import jax
        g = jax.pmap(lambda v: v + 1)
        xj = g(np.zeros((N, 4), np.float32))
        sides["jax.pmap"] = back_to_back(g, xj, CALLS)
    rows = [(name, t / CALLS) for name, t in interleaved(sides, rounds=41)]
    report("pmap call overhead, x + 1 on 8 devices, device-resident input", rows,
           "jax.pmap" if len(rows) > 1 else None, unit="us")
    if len(rows) > 1:
        goal("spmd/jax time per call", rows[0][1] / rows[1][1], 1.0)


def inflight_bound_cost():
    f = spmd.pmap(lambda a: lax.psum(jnp.tanh(a @ a), "i") * 0.01, axis_name="i")
    x0 = f(np.random.default_rng(2).standard_normal((N, 128, 128)).astype(np.float32))

    def loop(block_each):
        x = x0
        for _ in range(STEPS):
            x = f(x)
            if block_each:
                x.block_until_ready()
        x.block_until_ready()

    configs = [(f"bound {b}, never waits", b, False) for b in (1, 2, 4)]
    configs.append(("waits for every step", 2, True))
    times = {name: [] for name, _, _ in configs}
    before = config.max_inflight_executions
    for _ in range(9):  # interleaved, so that a change of machine load hits every row alike
        for name, bound, block in configs:
            config.update("max_inflight_executions", bound)
            times[name].append(median_seconds(lambda block=block: loop(block), 1, warmup=0) / STEPS)
    config.update("max_inflight_executions", before)
    rows = [(name, statistics.median(times[name])) for name, _, _ in configs]
    report("matmul 128x128 + psum per step, 8 devices: the in-flight bound", rows,
           "waits for every step", unit="us")


SECTIONS = {"psum": psum_1mib, "mlp": mlp_train_step, "overhead": call_overhead,
            "inflight": inflight_bound_cost}

if __name__ == "__main__":  # `python bench_pmap.py [psum|mlp|overhead|inflight ...]`
    print(f"machine: {machine()}")
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()
    print(f"machine at the end: {machine()}")
