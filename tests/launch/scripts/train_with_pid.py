"""Writes its pid to argv[1]/<rank>.pid once the job has assembled, then runs psums for up to
10 minutes: only the launcher can end it."""
import os
import sys
import time

import numpy as np

import spmd

spmd.distributed.initialize()
total = spmd.pmap(lambda v: spmd.lax.psum(v, "i"), axis_name="i")
total(np.ones(spmd.local_device_count()))
with open(os.path.join(sys.argv[1], f"{spmd.process_index()}.pid"), "w") as f:
    f.write(str(os.getpid()))
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    total(np.ones(spmd.local_device_count()))
    time.sleep(0.05)
