"""Process 1 exits with code 3 once the others are up; the others sleep (so only the launcher
can stop them) and write their pid to argv[1]/<rank>.pid first. Process 0 ignores SIGTERM
when argv[2] is 'stubborn' (only SIGKILL stops it)."""
import os
import signal
import sys
import time

import spmd

folder, mode = sys.argv[1], sys.argv[2]
spmd.distributed.initialize()
me, n = spmd.process_index(), spmd.process_count()
if me == 0 and mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if me != 1:
    with open(os.path.join(folder, f"{me}.pid"), "w") as f:
        f.write(str(os.getpid()))
    print(f"process {me} waiting", flush=True)
    time.sleep(600)
else:
    while len([f for f in os.listdir(folder) if f.endswith(".pid")]) < n - 1:
        time.sleep(0.05)
    os._exit(3)
