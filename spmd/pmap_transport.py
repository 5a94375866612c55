"""How a pmap program's collectives between processes travel (config `cross_process_collectives`):
over MPI from inside the program (collectives/mpi_all_reduce.py, and mpi_exchange.py for
all_gather, psum_scatter, all_to_all and ppermute) when the job has an MPI world
(mpirun/mpiexec started it, or its processes formed one through the coordinator at
spmd.distributed.initialize(): cluster/mpi_world.py), else as XLA all_reduces over gloo,
between the processes only once each process has reduced its own devices' values (when it has
several). MPI is the default where it can be
because it measured faster (benchmarks/RESULTS.md, issue 6)."""
from __future__ import annotations

from typing import Sequence

from spmd.cluster import mpi_world
from spmd.cluster.distributed import mpi_communicator
from spmd.collectives.mpi_all_reduce import CallbackAllReduce, gloo_after_local
from spmd.transforms import backend
from spmd.transforms.config import config

CHOICES = ("auto", "mpi", "gloo")


def cross_process_transport(devices: Sequence) -> CallbackAllReduce | None:
    """The transport for a program whose replicas are `devices` (one per replica): over MPI, or
    in-process first then gloo; None for XLA's own all_reduce (one process, or one device per
    process without MPI)."""
    choice = str(config.cross_process_collectives).strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"spmd.config cross_process_collectives is {choice!r}; choose one of "
                         f"{CHOICES}")
    processes = sorted({d.process_index for d in devices})
    if len(processes) < 2 or backend.process_index() not in processes:
        return None  # (a pmap that leaves this process out fails in pmap's own checks)
    groups = [[i for i, d in enumerate(devices) if d.process_index == p] for p in processes]
    if len({len(g) for g in groups}) != 1:
        return None  # processes with different device counts: XLA's all_reduce handles those
    me = processes.index(backend.process_index())
    comm = mpi_communicator() if choice != "gloo" else None
    if comm is None or processes != list(range(comm.Get_size())):
        if choice == "mpi":
            raise RuntimeError(
                "spmd.config cross_process_collectives='mpi' needs a job with an MPI world "
                "whose pmap spans every rank: one started by mpirun or mpiexec (spmd-run "
                "--mpi), or one whose processes formed it at spmd.distributed.initialize() "
                "(mpi4py and MPICH installed, cross_process_collectives not 'gloo' then); this "
                "one has none: set it to 'auto' or 'gloo'")
        # gloo: within the process first when it has several devices (see gloo_after_local)
        return gloo_after_local(groups, [me]) if len(groups[0]) > 1 else None
    from mpi4py import MPI
    # ("int32": the type of the per-call order check's tiny all-reduce, spmd/pmap_call_order.py)
    return CallbackAllReduce(groups, {me: comm}, {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN,
                                                  "int32": MPI.INT32_T}, MPI.IN_PLACE,
                             MPI.PROC_NULL, mpi_world.sub_communicator)
