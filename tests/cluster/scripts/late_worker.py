"""Process 0 has nothing to do and leaves at once; process 1 still uses the coordinator's
key-value store a second later. The coordinator (in process 0) must outlive that use."""
import time

import spmd
from spmd.cluster import distributed

spmd.distributed.initialize()
if spmd.process_index() == 1:
    time.sleep(1)
    distributed.distributed_client().key_value_set("late", "still served")
    print("late use served:", distributed.distributed_client().key_value_try_get("late"),
          flush=True)
