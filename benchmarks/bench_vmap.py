"""Issue 4 benchmarks, spmd and jax 0.10.2 side by side in one run (interleaved rounds):
per-example gradients of the MLP 784-512-512-10 (bench_autodiff's), batch 128, as one jitted
program `jit(vmap(grad(loss), in_axes=(None, 0, 0)))`, against a Python loop that calls the
jitted single-example gradient `jit(grad(loss))` once per example. The examples of the loop
are split onto the device beforehand, so that the loop pays for its calls only. A small MLP
follows for context: there the loop's cost is mostly its calls, which vmap removes."""
from __future__ import annotations

import numpy as np

import mlp
from common import goal, interleaved, jax_available, machine, report

import spmd


def _sides(lib, tag, host_params, x, y):
    loss, _ = mlp.make(lib)
    per_example = lib.jit(lib.vmap(lib.grad(loss), in_axes=(None, 0, 0)))
    one = lib.jit(lib.grad(loss))
    put = lib.numpy.asarray
    params = lib.tree_util.tree_map(put, host_params)
    xd, yd = put(x), put(y)
    examples = [(put(xi), put(yi)) for xi, yi in zip(x, y)]

    def block(tree):  # every leaf, as jax.block_until_ready(tree) does
        for leaf in lib.tree_util.tree_leaves(tree):
            leaf.block_until_ready()

    def vmapped():
        block(per_example(params, xd, yd))

    def loop():
        block([one(params, xi, yi) for xi, yi in examples])
    return {f"{tag} vmap": vmapped, f"{tag} loop": loop}, (per_example, params, xd, yd)


def per_example_grads(sizes=mlp.SIZES, goals=True):
    params, (x, y) = mlp.init(sizes=sizes), mlp.batch(sizes=sizes)
    sides, (s_f, s_p, s_x, s_y) = _sides(spmd, "spmd.jit", params, x, y)
    if jax_available():
        import jax
        jax_sides, (j_f, j_p, j_x, j_y) = _sides(jax, "jax.jit", params, x, y)
        sides.update(jax_sides)
        s_g = [np.asarray(g) for g in spmd.tree_util.tree_leaves(s_f(s_p, s_x, s_y))]
        j_g = [np.asarray(g) for g in jax.tree_util.tree_leaves(j_f(j_p, j_x, j_y))]
        err = max(float(np.max(np.abs(a - b))) for a, b in zip(s_g, j_g))
        print(f"per-example gradients, largest |spmd - jax|: {err:.2e}")
    order = ["spmd.jit vmap", "jax.jit vmap", "spmd.jit loop", "jax.jit loop"]
    times = dict(interleaved({k: sides[k] for k in order if k in sides}, rounds=9))
    rows = [(k, times[k]) for k in order if k in times]
    size = sum(w.size + b.size for w, b in params) * mlp.BATCH * 4 / 2**20
    report(f"per-example gradients, MLP {'-'.join(map(str, sizes))}, batch {mlp.BATCH} "
           f"({size:.0f} MiB of gradients)", rows,
           "jax.jit vmap" if "jax.jit vmap" in times else None)
    speedup = times["spmd.jit loop"] / times["spmd.jit vmap"]
    if not goals:
        print(f"  speed-up of vmap over the loop: {speedup:.1f}x")
        return
    if "jax.jit vmap" in times:
        goal("spmd vmap / jax vmap", times["spmd.jit vmap"] / times["jax.jit vmap"], 1.1)
    goal("spmd loop / spmd vmap (speed-up of vmap)", speedup, 10, higher_is_better=True)


if __name__ == "__main__":
    print(f"machine: {machine()}")
    per_example_grads()
    # context, no goal: a model small enough that the loop pays mostly for its 128 calls
    per_example_grads((64, 32, 10), goals=False)
    print(f"machine at the end: {machine()}")
