"""Processes that run already-agreed pmap programs out of step: each must raise, on every
process, naming both sides, and no value computed with the other process's program or step
may be printed.

argv[1]: "reorder" (process 0 runs a then b, process 1 b then a) or "skip" (each step runs a
training step then a psum of its metric; process 1 skips the metric's psum at step 2).
argv[2]: "gloo" (XLA's collectives between the processes) or "auto" (MPI where the job has a
world). Every value printed is "value <name> <step> <numbers>", which the test checks against
NumPy; "transport <name>" says which carried the psums."""
import sys

import numpy as np

import spmd

spmd.config.update("cross_process_collectives", sys.argv[2])  # before the MPI world forms
spmd.distributed.initialize()

from spmd import lax  # noqa: E402
from spmd.pmap_transport import cross_process_transport  # noqa: E402

me, n, L = spmd.process_index(), spmd.process_count(), spmd.local_device_count()
x = np.full((L, 3), me + 1.0, np.float32)  # the sum over all devices: L * n * (n + 1) / 2
transport = cross_process_transport(spmd.devices())
print(f"transport {getattr(transport, 'between_processes', None) or 'gloo'}", flush=True)


@spmd.pmap(axis_name="i")
def metric(v):
    return lax.psum(v, "i")


@spmd.pmap(axis_name="i")
def train_step(v):
    return lax.psum(v * 10.0, "i") + 7.0


a, b = metric, train_step  # noqa: E305


def show(name, step, value):
    print(f"value {name} {step} {np.asarray(value)[0].tolist()}", flush=True)


try:
    show("metric", 0, a(x))  # the first calls agree (pmap_agreement.py checks them)
    show("train_step", 0, b(x))
    if sys.argv[1] == "reorder":
        for name in ("metric", "train_step") if me == 0 else ("train_step", "metric"):
            show(name, 1, {"metric": a, "train_step": b}[name](x))
    else:
        for step in range(1, 5):
            show("train_step", step, b(x))  # the training step
            if not (me == 1 and step == 2):
                show("metric", step, a(x))  # its metric
except RuntimeError as e:
    print(f"process {me} raised {type(e).__name__}: {e}", flush=True)
    sys.exit(3)
print(f"process {me} finished", flush=True)
