"""`on_host.py [script.py args...]`: says which host this rank runs on (and the variables that
place it), then runs the script, if any, as its __main__; when the script joined a job of
several processes, says afterwards what carried pmap's all-reduces between them (the script's
own output need not say)."""
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
    spmd = sys.modules.get("spmd")
    if spmd is not None and spmd.process_count() > 1:
        from spmd.pmap_transport import cross_process_transport
        chosen = cross_process_transport(spmd.devices())
        print(f"process {spmd.process_index()} on host {socket.gethostname()} reduced between "
              f"processes over {'gloo' if chosen is None else chosen.between_processes}",
              flush=True)
