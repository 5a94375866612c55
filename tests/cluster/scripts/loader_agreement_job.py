"""A ShardedLoader in every process of a job. argv[1] says what differs on process 1: "nothing",
"seed" or "rows" (one extra row). Prints the row ids this process read in one epoch, or the
error the loader raised."""
import sys

import numpy as np

import spmd

spmd.distributed.initialize()
me = spmd.process_index()
differs = sys.argv[1]
rows = 64 + (1 if differs == "rows" and me == 1 else 0)
seed = 7 + (1 if differs == "seed" and me == 1 else 0)
data = {"id": np.arange(rows), "x": np.zeros((rows, 3), np.float32)}
try:
    loader = spmd.data.ShardedLoader(data, 8, seed=seed, prefetch=0, to_device=False)
except RuntimeError as e:
    print(f"refused: {e}")
    sys.exit(3)
seen = [int(i) for batch in loader for i in np.asarray(batch["id"]).ravel()]
print("seen", *seen)
