"""`on_host.py [script.py args...]`: says which host this rank runs on (and the variables that
place it), then runs the script, if any, as its __main__."""
import os
import runpy
import socket
import sys

rank = os.environ.get("SPMD_PROCESS_ID", os.environ.get("PMI_RANK"))
local = os.environ.get("SPMD_LOCAL_RANK", os.environ.get("MPI_LOCALRANKID"))
print(f"rank {rank} runs on host {socket.gethostname()} as local rank {local}, "
      f"UCX_TLS={os.environ.get('UCX_TLS')}", flush=True)
if len(sys.argv) > 1:
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
