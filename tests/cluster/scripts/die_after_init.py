"""Process `dying` leaves the job right after joining it (os._exit: it dies; sys.exit: it
leaves normally; raise: it crashes); the others wait for it in a barrier, which must not hang."""
import os
import sys

import spmd

dying, how = int(sys.argv[1]), sys.argv[2]
spmd.distributed.initialize(heartbeat_timeout_seconds=3)
if spmd.process_index() == dying:
    if how == "exit":
        os._exit(3)
    if how == "sys.exit":
        sys.exit(3)
    raise ValueError("this process fails on purpose")
spmd.distributed.sync_global_devices("never reached by the dying process")
print("survivor passed the barrier", flush=True)
