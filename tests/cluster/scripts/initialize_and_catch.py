"""For each ADDRESS:PROCESS_ID argument, initialize() as that process of a job of 2 with a short
timeout, catch what it raises and print it with the time it took: the script must get a Python
exception, never an abort."""
import sys
import time

import spmd

for arg in sys.argv[1:]:
    address, _, process_id = arg.rpartition(":")
    start = time.monotonic()
    try:
        spmd.distributed.initialize(address, 2, int(process_id), initialization_timeout=3)
    except Exception as e:  # noqa: BLE001  (what the script catches is what is tested)
        print(f"caught after {time.monotonic() - start:.1f} s: {type(e).__name__}: {e}",
              flush=True)
    else:
        print(f"{address} joined?!", flush=True)
