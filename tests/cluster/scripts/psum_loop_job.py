"""A job that keeps psum-ing until the file `stop` exists (at most 120 s) and checks every
result against the sum it must be (so that anything another job does to it shows): prints
'ready' once its first step is right. The processes stop together: each step also sums who
has seen the file, so none leaves while another still waits in a psum."""
import os
import sys
import time

import numpy as np

import spmd

stop = sys.argv[1]
spmd.distributed.initialize(initialization_timeout=60)
local, total = spmd.local_device_count(), spmd.device_count()
first = spmd.process_index() * local  # this process's first global device index
step_fn = spmd.pmap(lambda x, seen: (spmd.lax.psum(x, "i"), spmd.lax.psum(seen, "i")),
                    axis_name="i")
start, steps = time.monotonic(), 0
while True:
    x = np.arange(first, first + local, dtype=np.float32) + steps
    seen = np.full(local, os.path.exists(stop) or time.monotonic() - start > 120, np.float32)
    got, anyone_seen = (np.asarray(a) for a in step_fn(x, seen))
    want = np.arange(total, dtype=np.float32).sum() + total * steps
    assert np.all(got == want), (steps, got, want)
    if steps == 0:
        print("ready", flush=True)
    steps += 1
    if anyone_seen[0] > 0:
        break
print(f"finished {steps} steps, all right", flush=True)
