"""Damaged checkpoints and refused saves in a job of several processes: process 0 reads
argv[1] (a directory whose newest checkpoint is damaged; the others are given a path that does
not exist), and every process must get the same result or the same error. Prints one line per
check."""
import sys
import warnings

import numpy as np

import spmd
from spmd import checkpoints

spmd.distributed.initialize()
me = spmd.process_index()
directory = sys.argv[1] if me == 0 else "/nonexistent/only-process-0-reads"

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tree = checkpoints.restore_checkpoint(directory)
print("restored", tree["w"].tolist(), "warned", [str(w.message) for w in caught], flush=True)

for what, call in [
        ("damaged", lambda: checkpoints.restore_checkpoint(f"{directory}/checkpoint_2")),
        ("older", lambda: checkpoints.save_checkpoint(directory, {"w": np.zeros(1)}, step=0))]:
    try:
        call()
        print(what, "no error")
    except (checkpoints.DamagedCheckpoint, ValueError) as e:
        print(what, type(e).__name__, e, flush=True)
