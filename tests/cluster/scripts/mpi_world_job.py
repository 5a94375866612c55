"""One process of a job started by hand (no mpiexec) that checks its MPI world: formed through
the coordinator at initialize() unless gloo was asked for (SPMD_CROSS_PROCESS_COLLECTIVES) or
a process cannot join (argv[1] == 'mpi4py-first': process 1 initializes MPI itself first).
Prints one line per fact; the test compares them across processes and jobs."""
import os
import subprocess
import sys
import warnings

if sys.argv[1:] == ["mpi4py-first"] and os.environ["SPMD_PROCESS_ID"] == "1":
    from mpi4py import MPI  # noqa: F401  (a singleton MPI, before spmd could form the world)

import numpy as np  # noqa: E402

import spmd  # noqa: E402
from spmd import lax  # noqa: E402

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    spmd.distributed.initialize()
from spmd.cluster.distributed import mpi_communicator  # noqa: E402
from spmd.pmap_transport import cross_process_transport  # noqa: E402

me = spmd.process_index()
print("warnings", [str(w.message) for w in caught], flush=True)
comm = mpi_communicator()
if comm is None:
    print("world none", flush=True)
else:
    from mpi4py import MPI
    print(f"world rank {comm.Get_rank()} of {comm.Get_size()} sum "
          f"{comm.allreduce(10 ** me, op=MPI.SUM)}", flush=True)
    with open("/proc/self/maps") as f:  # "<path> (deleted)" once the name is removed
        segments = sorted({line.split(None, 5)[5].strip() for line in f
                           if "/dev/shm/mpich_" in line})
    print("segments", " | ".join(segments), flush=True)
print("environment", sorted(k for k in os.environ if k.startswith("PMI_")), flush=True)
child = subprocess.run([sys.executable, "-c", "import os; print(sorted(k for k in os.environ "
                        "if k.startswith('PMI_')))"], capture_output=True, text=True, check=True)
print("child_environment", child.stdout.strip(), flush=True)
chosen = cross_process_transport(spmd.devices())
total = spmd.pmap(lambda x: lax.psum(x, "i"), "i")(np.full((1, 2), 10.0 ** me, np.float32))
print(f"psum {total.tolist()} over {'gloo' if chosen is None else chosen.between_processes}",
      flush=True)
