"""Issue 3 benchmarks, spmd and jax 0.10.2 side by side in one run (interleaved rounds):

1. one jitted SGD step (value_and_grad) of the MLP 784-512-512-10 on a batch of 128, softmax
   cross-entropy, parameters donated (as a training loop does); a round runs STEPS steps and
   waits for the last, so both sides pay for the queued work the same way;
2. trace + lower + compile of that step, every cache cleared first (untimed, `clear_caches()`
   on both sides) and a new jit object each time: `jit(step).lower(*args).compile()`.
"""
from __future__ import annotations

import mlp
from common import goal, interleaved, jax_available, jitted_steps, machine, report

import spmd

STEPS = 20


def _step_runner(lib, host_params, x, y):
    return jitted_steps(lib, mlp.make(lib)[1], host_params, x, y, STEPS)


def step_time():
    params, (x, y) = mlp.init(), mlp.batch()
    runners = {"spmd.jit": _step_runner(spmd, params, x, y)}
    if jax_available():
        import jax
        runners["jax.jit"] = _step_runner(jax, params, x, y)
        # same program, same numbers: one step from the same parameters on both sides
        s_loss = float(spmd.jit(mlp.make(spmd)[1])(params, x, y)[1])
        j_loss = float(jax.jit(mlp.make(jax)[1])(params, x, y)[1])
        print(f"loss of one step: spmd {s_loss:.6f}, jax {j_loss:.6f}")
    rows = [(name, t / STEPS) for name, t in
            interleaved(runners, rounds=15)]
    report(f"SGD step, MLP 784-512-512-10, batch {mlp.BATCH} (per step)", rows,
           "jax.jit" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax time per step", rows[0][1] / rows[1][1], 1.1)


def _compile_once(lib, params, x, y):
    _, sgd_step = mlp.make(lib)

    def once():
        lib.jit(sgd_step, donate_argnums=0).lower(params, x, y).compile()
    return once


def trace_lower_compile():
    params, (x, y) = mlp.init(), mlp.batch()
    sides = {"spmd.jit": _compile_once(spmd, params, x, y)}
    if jax_available():
        import jax
        sides["jax.jit"] = _compile_once(jax, params, x, y)
    clear = {"spmd.jit": spmd.clear_caches}  # untimed, before every timed compile
    if jax_available():
        clear["jax.jit"] = jax.clear_caches
    rows = interleaved(sides, rounds=11, before=clear)
    report("trace + lower + compile of that SGD step", rows,
           "jax.jit" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax trace+lower+compile", rows[0][1] / rows[1][1], 1.0)


if __name__ == "__main__":
    print(f"machine: {machine()}")
    step_time()
    trace_lower_compile()
    print(f"machine at the end: {machine()}")
