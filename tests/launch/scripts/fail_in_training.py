"""A short training loop of psums in which process 1 fails at step 3 as argv[1] says: 'exit'
(sys.exit(3)), 'kill' (SIGKILL), or 'wait' (it writes argv[2]/1.ready and sleeps: only a
signal ends it); 'kill0' kills process 0 (the coordinator's). Every sum is checked against the
device count."""
import os
import signal
import sys
import time

import numpy as np

import spmd

how = sys.argv[1]
spmd.distributed.initialize()
me, n = spmd.process_index(), spmd.process_count()
total = spmd.pmap(lambda v: spmd.lax.psum(v, "i"), axis_name="i")
for step in range(200):
    out = np.asarray(total(np.ones(spmd.local_device_count())))
    assert (out == spmd.device_count()).all(), out
    if me == (0 if how == "kill0" else 1) and step == 3:
        if how == "exit":
            sys.exit(3)
        if how.startswith("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "wait":
            open(os.path.join(sys.argv[2], "1.ready"), "w").close()
            time.sleep(600)
    time.sleep(0.05)
