"""A job that keeps psum-ing until the file `stop` exists (at most 120 s) and checks every
result against the sum it must be (so that anything another job does to it shows): prints
'ready' once its first step is right."""
import os
import sys
import time

import numpy as np

import spmd

stop = sys.argv[1]
spmd.distributed.initialize(initialization_timeout=60)
local, total = spmd.local_device_count(), spmd.device_count()
first = spmd.process_index() * local  # this process's first global device index
step_fn = spmd.pmap(lambda x: spmd.lax.psum(x, "i"), axis_name="i")
start, steps = time.monotonic(), 0
while not os.path.exists(stop) and time.monotonic() - start < 120:
    x = np.arange(first, first + local, dtype=np.float32) + steps
    got = np.asarray(step_fn(x))
    want = np.arange(total, dtype=np.float32).sum() + total * steps
    assert np.all(got == want), (steps, got, want)
    if steps == 0:
        print("ready", flush=True)
    steps += 1
print(f"finished {steps} steps, all right", flush=True)
