"""Issue 13 benchmarks: a convolutional net, spmd and jax 0.10.2 side by side in one run
(interleaved rounds), the same code on both sides (`make(lib)` below):

1. one jitted SGD step (value_and_grad) of a small conv net on MNIST-sized images (batch 64,
   28x28x1, NHWC): conv 3x3x32, ReLU, 2x2 max pool, conv 3x3x64, ReLU, 2x2 max pool, dense 10,
   softmax cross-entropy; parameters donated, STEPS steps a round, waiting for the last;
2. trace + lower + compile of that step, every cache cleared first (untimed) and a new jit
   object each time: `jit(step).lower(*args).compile()`.

    SPMD_CPU_DEVICES=8 PYTHONPATH=.. python bench_conv.py
"""
from __future__ import annotations

import numpy as np

from common import goal, interleaved, jax_available, jitted_steps, machine, report

import spmd

STEPS = 5
BATCH = 64
DIMS = ("NHWC", "HWIO", "NHWC")
LEARNING_RATE = 0.01


def init(seed=0):
    """Host parameters: two HWIO kernels with biases and a dense layer, float32."""
    rng = np.random.default_rng(seed)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return [(he((3, 3, 1, 32), 9), np.zeros(32, np.float32)),
            (he((3, 3, 32, 64), 9 * 32), np.zeros(64, np.float32)),
            (he((7 * 7 * 64, 10), 7 * 7 * 64), np.zeros(10, np.float32))]


def batch(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 28, 28, 1)).astype(np.float32)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]


def make(jax):
    """sgd_step(params, x, y) -> (params, loss) for `jax` (spmd or jax)."""
    lax, jnp, nn = jax.lax, jax.numpy, jax.nn

    def conv(x, w, b):
        return nn.relu(lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DIMS) + b)

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def loss(params, x, y):
        (w1, b1), (w2, b2), (w3, b3) = params
        h = pool(conv(pool(conv(x, w1, b1)), w2, b2))
        logits = h.reshape(h.shape[0], -1) @ w3 + b3
        return -jnp.mean(jnp.sum(nn.log_softmax(logits) * y, axis=-1))

    def sgd_step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads), value
    return sgd_step


def _step_runner(lib, host_params, x, y):
    return jitted_steps(lib, make(lib), host_params, x, y, STEPS)


def step_time():
    params, (x, y) = init(), batch()
    runners = {"spmd.jit": _step_runner(spmd, params, x, y)}
    if jax_available():
        import jax
        runners["jax.jit"] = _step_runner(jax, params, x, y)
        s_loss = float(spmd.jit(make(spmd))(params, x, y)[1])
        j_loss = float(jax.jit(make(jax))(params, x, y)[1])
        print(f"loss of one step: spmd {s_loss:.6f}, jax {j_loss:.6f}")
    rows = [(name, t / STEPS) for name, t in interleaved(runners, rounds=11)]
    report(f"SGD step, conv net 28x28x1 -> 32 -> 64 -> 10, batch {BATCH} (per step)", rows,
           "jax.jit" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax time per step", rows[0][1] / rows[1][1], 1.1)


def _compile_once(lib, params, x, y):
    def once():
        lib.jit(make(lib), donate_argnums=0).lower(params, x, y).compile()
    return once


def trace_lower_compile():
    params, (x, y) = init(), batch()
    sides = {"spmd.jit": _compile_once(spmd, params, x, y)}
    clear = {"spmd.jit": spmd.clear_caches}  # untimed, before every timed compile
    if jax_available():
        import jax
        sides["jax.jit"] = _compile_once(jax, params, x, y)
        clear["jax.jit"] = jax.clear_caches
    rows = interleaved(sides, rounds=9, before=clear)
    report("trace + lower + compile of that conv net step", rows,
           "jax.jit" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax trace+lower+compile", rows[0][1] / rows[1][1], 1.1)


if __name__ == "__main__":
    print(f"machine: {machine()}")
    step_time()
    trace_lower_compile()
    print(f"machine at the end: {machine()}")
