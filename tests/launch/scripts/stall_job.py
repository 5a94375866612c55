"""Eight psum steps in which process 1 pauses argv[1] seconds after its 4th (it prints when
the pause starts, as a wall-clock time): every other process waits in the 5th meanwhile.
Every sum is checked against the device count."""
import sys
import time

import numpy as np

import spmd

pause = float(sys.argv[1])
spmd.distributed.initialize()


def step(v):
    return spmd.lax.psum(v, "i")


total = spmd.pmap(step, axis_name="i")
for i in range(8):
    out = np.asarray(total(np.ones(spmd.local_device_count())))
    assert (out == spmd.device_count()).all(), out
    if spmd.process_index() == 1 and i == 3:
        print(f"pausing at {time.time()}", flush=True)
        time.sleep(pause)
print("finished", flush=True)
