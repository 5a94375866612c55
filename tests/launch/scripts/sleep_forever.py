"""Writes its pid to argv[1]/<rank>.pid and sleeps: only a signal ends it."""
import os
import sys
import time

with open(os.path.join(sys.argv[1], f"{os.environ['SPMD_PROCESS_ID']}.pid"), "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)
