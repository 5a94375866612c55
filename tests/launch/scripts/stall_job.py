"""Eight psum steps in which process 1 pauses after its 4th (it prints when the pause starts, as
a wall-clock time): argv[1] seconds, or, given "stop", it stops itself (SIGSTOP) and never goes
on. Every other process waits in the 5th meanwhile. Every sum is checked against the device
count; process 0 first says how the psums travel between processes."""
import os
import signal
import sys
import time

import numpy as np

import spmd
from spmd.pmap_transport import cross_process_transport

pause = sys.argv[1]
spmd.distributed.initialize()


def step(v):
    return spmd.lax.psum(v, "i")


if spmd.process_index() == 0:
    chosen = cross_process_transport(spmd.devices())
    print(f"between processes over {'gloo' if chosen is None else chosen.between_processes}",
          flush=True)
total = spmd.pmap(step, axis_name="i")
for i in range(8):
    out = np.asarray(total(np.ones(spmd.local_device_count())))
    assert (out == spmd.device_count()).all(), out
    if spmd.process_index() == 1 and i == 3:
        print(f"pausing at {time.time()}", flush=True)
        if pause == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        else:
            time.sleep(float(pause))
print("finished", flush=True)
