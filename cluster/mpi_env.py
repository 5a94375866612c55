"""Processes started by mpirun/mpiexec (MPICH and Intel MPI's Hydra, Open MPI).

Rank and size come from the launcher's variables, so detecting MPI costs nothing; only the
coordinator address needs MPI itself: rank 0 picks a free port and broadcasts it with mpi4py.
"""
from __future__ import annotations

import os
import socket

from spmd.cluster.addresses import LOOPBACK, free_port, join_address
from spmd.cluster.cluster_env import ClusterEnv, int_variable

# (rank, size, local rank) variables of each launcher family
_LAUNCHERS = (("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),  # MPICH / Intel MPI (Hydra)
              ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"))


def _variables() -> tuple[str, str, str] | None:
    return next((names for names in _LAUNCHERS
                 if names[0] in os.environ and names[1] in os.environ), None)


class MpiEnv(ClusterEnv):
    name = "mpi"
    aliases = ("mpi4py", "ompi")
    priority = 30
    env_vars = tuple(v for names in _LAUNCHERS for v in names) + ("MPI_LOCALNRANKS",)

    @classmethod
    def is_present(cls) -> bool:
        return _variables() is not None

    @classmethod
    def process_count(cls) -> int:
        return int_variable(_variables()[1])

    @classmethod
    def process_id(cls) -> int:
        return int_variable(_variables()[0])

    @classmethod
    def local_rank(cls) -> int | None:
        name = _variables()[2]
        return int_variable(name) if name in os.environ else None

    @classmethod
    def coordinator_address(cls) -> str:
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError(f"this process was started by mpiexec ({_variables()[0]} is "
                               f"set), and finding the coordinator needs mpi4py: pip install "
                               f"mpi4py, or pass coordinator_address to "
                               f"spmd.distributed.initialize()") from None
        comm = MPI.COMM_WORLD
        hosts = comm.allgather(socket.gethostname())
        address = None
        if comm.Get_rank() == 0:
            # One host: stay on loopback. Several: rank 0's name, which the others can reach.
            host = LOOPBACK if len(set(hosts)) == 1 else hosts[0]
            address = join_address(host, free_port(host))
        return comm.bcast(address, root=0)
