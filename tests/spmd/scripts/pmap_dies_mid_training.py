"""A training loop of cross-process pmap steps in which process 1 is killed (SIGKILL) after a
few steps, while the others are inside or about to enter the step's collectives.

argv: a folder where each process writes its pid (<rank>.pid) and MPICH's shared-memory
segments (<rank>.segments), and process 1 the time it dies (died_at). The survivors must not
hang: the launcher, or without one the distributed runtime (heartbeats) and the collectives'
broken connections, end them."""
import os
import signal
import sys
import time

import numpy as np

import spmd

spmd.distributed.initialize()

from spmd import lax  # noqa: E402
from spmd.pmap_transport import cross_process_transport  # noqa: E402

folder = sys.argv[1]
me, L = spmd.process_index(), spmd.local_device_count()
chosen = cross_process_transport(spmd.devices())
over = "gloo" if chosen is None else chosen.between_processes
with open(os.path.join(folder, f"{me}.pid"), "w") as f:
    f.write(str(os.getpid()))


def mpich_segments() -> list[str]:
    """The /dev/shm segments MPICH mapped here (their names may be removed already)."""
    with open("/proc/self/maps") as f:
        return sorted({line.split(None, 5)[5].split(" (deleted)")[0].strip() for line in f
                       if "/dev/shm/mpich_" in line})


step = spmd.pmap(lambda w, x: w - 0.01 * lax.pmean(x * w, "batch"), axis_name="batch",
                 donate_argnums=0)
w = np.ones((L, 1024), np.float32)
x = np.random.default_rng(me).standard_normal((L, 1024)).astype(np.float32)
for i in range(1_000_000):
    w = step(w, x)
    if i == 20:
        print(f"process {me} is training (between processes over {over})", flush=True)
        with open(os.path.join(folder, f"{me}.segments"), "w") as f:
            f.write("\n".join(mpich_segments()))
    if i == 30 and me == 1:
        with open(os.path.join(folder, "died_at"), "w") as f:
            f.write(repr(time.time()))
        os.kill(os.getpid(), signal.SIGKILL)
np.asarray(w)
print(f"process {me}: training finished", flush=True)
