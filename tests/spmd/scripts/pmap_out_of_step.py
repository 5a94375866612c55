"""Processes that run already-agreed pmap programs out of step: each must raise, on every
process, naming both sides, and no value computed with the other process's program or step
may be printed.

argv[1]: "reorder" (process 0 runs a then b, process 1 b then a) or "skip" (each step runs a
training step then a psum of its metric; process 1 skips the metric's psum at step 2).
Every value printed is "value <name> <step> <numbers>", which the test checks against NumPy."""
import sys

import numpy as np

import spmd

spmd.distributed.initialize()

from spmd import lax  # noqa: E402

me, n, L = spmd.process_index(), spmd.process_count(), spmd.local_device_count()
x = np.full((L, 3), me + 1.0, np.float32)  # the sum over all devices: L * n * (n + 1) / 2


@spmd.pmap(axis_name="i")
def metric(v):
    return lax.psum(v, "i")


@spmd.pmap(axis_name="i")
def train_step(v):
    return lax.psum(v * 10.0, "i") + 7.0


a, b = metric, train_step


def show(name, step, value):
    print(f"value {name} {step} {np.asarray(value)[0].tolist()}", flush=True)


try:
    show("a", 0, a(x))  # the first calls agree (pmap_agreement's first-call check passes)
    show("b", 0, b(x))
    if sys.argv[1] == "reorder":
        for name in ("a", "b") if me == 0 else ("b", "a"):
            show(name, 1, {"a": a, "b": b}[name](x))
    else:
        for step in range(1, 5):
            show("b", step, b(x))  # the training step
            if not (me == 1 and step == 2):
                show("a", step, a(x))  # its metric
except RuntimeError as e:
    print(f"process {me} raised {type(e).__name__}: {e}", flush=True)
    sys.exit(3)
print(f"process {me} finished", flush=True)
