"""Issue 17 benchmarks: the data-parallel training step of examples/train_sharded.py (the MLP
64-128-10 with Adam, global batch 128) on 8 CPU devices, side by side in one run (interleaved
rounds), the same code on every side (`make(lib)` below):

1. the step as `jit` over a ('data', 'model') mesh of 8 x 1 with NamedSharding (parameters and
   optimizer state replicated, the batch split over 'data'), in spmd and jax 0.10.2; and the
   same model as a `pmap` step (gradients `pmean`ed), in spmd and jax. Parameters and optimizer
   state donated, batch already on the devices, STEPS steps a round, waiting for the last loss;
   Also the mesh step fed NumPy batches (as train_sharded.py's loop does). Each table twice:
   wall time, and the CPU time of the process (all threads: less sensitive to other users);
2. trace + lower + compile of the mesh step, every cache cleared first (untimed), a new jit
   object each time: `jit(step, in_shardings=, out_shardings=).lower(...).compile()`;
3. the partitioner: jax's step and compile with Shardy (jax 0.10.2's default, the one spmd
   runs) against GSPMD (`jax_use_shardy_partitioner=False`).

    SPMD_CPU_DEVICES=8 XLA_FLAGS=--xla_force_host_platform_device_count=8 \
        PYTHONPATH=.. python bench_sharded.py [step|compile|partitioner ...]
"""
from __future__ import annotations

import collections
import sys
import time

import numpy as np

from common import goal, interleaved, jax_available, machine, report

import spmd

N = 8
LAYERS = (64, 128, 10)  # examples/train_data_parallel.py's model
BATCH = 128
STEPS = 20
LEARNING_RATE, B1, B2, EPS = 2e-3, 0.9, 0.999, 1e-8


def host_state(seed=0):
    """Parameters (He-initialized), Adam's state (count, first and second moments) and one
    global batch, as NumPy."""
    rng = np.random.default_rng(seed)
    params = [{"w": (rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(np.float32),
               "b": np.zeros(n, np.float32)} for m, n in zip(LAYERS[:-1], LAYERS[1:])]
    zeros = [{k: np.zeros_like(v) for k, v in layer.items()} for layer in params]
    opt_state = (np.zeros((), np.float32), zeros, [dict(z) for z in zeros])
    images = rng.random((BATCH, LAYERS[0]), dtype=np.float32)
    labels = rng.integers(0, LAYERS[-1], BATCH).astype(np.int32)
    return params, opt_state, images, labels


def make(lib, axis_name=None):
    """train_step(params, opt_state, images, labels) -> (params, opt_state, loss) for `lib`
    (spmd or jax); with `axis_name`, the per-device step of a pmap (gradients averaged)."""
    jnp, nn, tree_map = lib.numpy, lib.nn, lib.tree_util.tree_map

    def predict(params, x):
        for layer in params[:-1]:
            x = nn.relu(x @ layer["w"] + layer["b"])
        return x @ params[-1]["w"] + params[-1]["b"]

    def loss_fn(params, images, labels):
        log_probs = nn.log_softmax(predict(params, images))
        return -jnp.mean(jnp.sum(nn.one_hot(labels, LAYERS[-1]) * log_probs, axis=-1))

    def train_step(params, opt_state, images, labels):
        loss, grads = lib.value_and_grad(loss_fn)(params, images, labels)
        if axis_name is not None:
            grads, loss = lib.lax.pmean((grads, loss), axis_name)
        count, mu, nu = opt_state
        count = count + 1
        mu = tree_map(lambda m, g: B1 * m + (1 - B1) * g, mu, grads)
        nu = tree_map(lambda v, g: B2 * v + (1 - B2) * g * g, nu, grads)
        scale_mu, scale_nu = 1 / (1 - B1 ** count), 1 / (1 - B2 ** count)
        params = tree_map(lambda p, m, v: p - LEARNING_RATE * (m * scale_mu) / (
            jnp.sqrt(v * scale_nu) + EPS), params, mu, nu)
        return params, (count, mu, nu), loss
    return train_step


def mesh_jit(lib, **options):
    """The step as jit over a ('data', 'model') mesh of N x 1 (as train_sharded.py makes it),
    and a function putting (params, opt_state, images, labels) where the step takes them."""
    mesh = lib.make_mesh((N, 1), ("data", "model"))
    whole = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec())
    split = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("data"))
    step = lib.jit(make(lib), in_shardings=(whole, whole, split, split),
                   out_shardings=(whole, whole, whole), donate_argnums=(0, 1), **options)

    def put(params, opt_state, images, labels):
        return (lib.device_put(params, whole), lib.device_put(opt_state, whole),
                lib.device_put(images, split), lib.device_put(labels, split))
    return step, put


def pmapped(lib):
    """The same step as a pmap over N devices, and its placement (copies, per-device rows)."""
    step = lib.pmap(make(lib, "batch"), axis_name="batch", donate_argnums=(0, 1))

    def put(params, opt_state, images, labels):
        copies = lib.tree_util.tree_map(lambda v: np.broadcast_to(v, (N,) + v.shape),
                                        (params, opt_state))
        rows = [v.reshape((N, -1) + v.shape[1:]) for v in (images, labels)]
        identity = lib.pmap(lambda t: t)
        return (*identity(copies), *identity(rows))
    return step, put


def _runner(step, put, host_batch=False):
    """A timed batch: STEPS steps with the state donated, the batch on the devices (or, with
    `host_batch`, NumPy arrays each step, as train_sharded.py's loop passes them), then a wait
    for the last loss. Before step k each side waits for the loss of step k - 2 (spmd bounds
    its executions in flight so by itself; unbounded, jax's CPU collectives can deadlock)."""
    host = host_state()
    state = list(put(*host))

    def run():
        params, opt_state, images, labels = state
        if host_batch:
            images, labels = host[2:]
        pending = collections.deque()
        for _ in range(STEPS):
            params, opt_state, loss = step(params, opt_state, images, labels)
            pending.append(loss)
            if len(pending) > 2:
                pending.popleft().block_until_ready()
        loss.block_until_ready()
        state[:2] = params, opt_state
    return run


def _first_losses(sides: dict) -> str:
    """The loss of one step from the same start on every side (the same model, checked)."""
    out = []
    for name, (step, put) in sides.items():
        loss = np.asarray(step(*put(*host_state()))[2]).reshape(-1)[0]
        out.append(f"{name} {float(loss):.6f}")
    return ", ".join(out)


def step_time():
    libs = [spmd]
    if jax_available():
        import jax
        libs.append(jax)
    made, runners = {}, {}
    for lib in libs:
        made[f"{lib.__name__}.jit (mesh)"] = mesh_jit(lib)
        made[f"{lib.__name__}.pmap"] = pmapped(lib)
    print(f"loss of one step: {_first_losses(made)}")
    for name, sides in made.items():
        runners[name] = _runner(*sides)
    for lib in libs:
        runners[f"{lib.__name__}.jit (mesh), host batch"] = _runner(*mesh_jit(lib), True)
    base = "jax.jit (mesh)" if len(libs) > 1 else None
    title = (f"train step of train_sharded.py (MLP {'-'.join(map(str, LAYERS))}, Adam, global "
             f"batch {BATCH}) on {N} CPU devices, per step")
    for clock, what in ((time.perf_counter, "wall time"), (time.process_time, "CPU time")):
        rows = [(name, t / STEPS) for name, t in interleaved(runners, rounds=21, clock=clock)]
        times = dict(rows)
        report(f"{title}: {what} of the process", rows, base, unit="us")
        if base:
            goal(f"spmd mesh jit / jax mesh jit, {what} per step",
                 times["spmd.jit (mesh)"] / times[base], 1.05)
            goal(f"the same with host batches, {what} per step",
                 times["spmd.jit (mesh), host batch"] / times["jax.jit (mesh), host batch"],
                 1.05)
        goal(f"spmd mesh jit / spmd pmap, {what} per step",
             times["spmd.jit (mesh)"] / times["spmd.pmap"], 1.05)


def _compile_once(lib, **options):
    args = host_state()

    def once():
        step, put = mesh_jit(lib, **options)
        step.lower(*put(*args)).compile()
    return once


def trace_lower_compile():
    sides = {"spmd.jit (mesh)": _compile_once(spmd)}
    clear = {"spmd.jit (mesh)": spmd.clear_caches}  # untimed, before every timed compile
    if jax_available():
        import jax
        sides["jax.jit (mesh)"] = _compile_once(jax)
        clear["jax.jit (mesh)"] = jax.clear_caches
    base = "jax.jit (mesh)" if len(sides) > 1 else None
    for clock, what in ((time.perf_counter, "wall time"), (time.process_time, "CPU time")):
        rows = interleaved(sides, rounds=9, before=clear, clock=clock)
        report(f"trace + lower + compile of that step over the mesh: {what}", rows, base)
        if base:
            goal(f"spmd/jax trace+lower+compile, {what}", rows[0][1] / rows[1][1], 1.0)


def partitioner():
    """jax's mesh step and its compile under Shardy and under GSPMD (spmd lowers to Shardy's
    dialect only; jax can run both, which tells which jaxlib 0.10.2 runs better)."""
    if not jax_available():
        print("\n(jax not installed: no partitioner comparison)")
        return
    import jax

    def under(shardy: bool, fn):
        def run():
            jax.config.update("jax_use_shardy_partitioner", shardy)
            try:
                fn()
            finally:
                jax.config.update("jax_use_shardy_partitioner", True)
        return run

    compiles = {f"jax {name}": under(flag, _compile_once(jax))
                for name, flag in (("Shardy", True), ("GSPMD", False))}
    rows = interleaved(compiles, rounds=7, before={k: jax.clear_caches for k in compiles},
                       clock=time.process_time)
    report("jax: trace + lower + compile of the mesh step, Shardy vs GSPMD (CPU time)", rows,
           "jax Shardy")
    steps = {}
    for name, flag in (("Shardy", True), ("GSPMD", False)):
        jax.config.update("jax_use_shardy_partitioner", flag)
        step, put = mesh_jit(jax)
        run = _runner(step, put)
        run()  # compiled under this partitioner; later calls reuse that executable
        steps[f"jax {name}"] = run
    jax.config.update("jax_use_shardy_partitioner", True)
    rows = [(name, t / STEPS) for name, t in interleaved(steps, rounds=15,
                                                         clock=time.process_time)]
    report("jax: mesh step, Shardy vs GSPMD (CPU time per step)", rows, "jax Shardy", unit="us")


SECTIONS = {"step": step_time, "compile": trace_lower_compile, "partitioner": partitioner}

if __name__ == "__main__":
    print(f"machine: {machine()}")
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()
    print(f"machine at the end: {machine()}")
