"""Processes started by mpirun/mpiexec (MPICH and Intel MPI's Hydra, Open MPI).

Rank and size come from the launcher's variables, so detecting MPI costs nothing; only the
coordinator address needs MPI itself: rank 0 picks a free port and broadcasts it with mpi4py.
"""
from __future__ import annotations

import os
import secrets
import socket
import stat

from spmd.cluster.addresses import (LOOPBACK, free_port, join_address, resolves_to_loopback,
                                    route_source_address)
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
        _check_process_manager()  # MPI's initialization would wait for the others forever
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError(f"this process was started by mpiexec ({_variables()[0]} is "
                               f"set), and finding the coordinator needs mpi4py: pip install "
                               f"mpi4py, or pass coordinator_address to "
                               f"spmd.distributed.initialize()") from None
        comm = MPI.COMM_WORLD
        hosts = comm.allgather(socket.gethostname())
        chosen = None
        if comm.Get_rank() == 0:
            try:
                host = coordinator_host(hosts)
                chosen = (join_address(host, free_port(host)), secrets.token_hex(8), None)
            except RuntimeError as e:
                chosen = (None, None, str(e))  # every rank raises it, none waits for the others
        address, _job["id"], error = comm.bcast(chosen, root=0)
        if error is not None:
            raise RuntimeError(error)
        return address

    @classmethod
    def job_id(cls) -> str | None:
        # rank 0 drew it with the coordinator's port, and broadcast both
        return _job.get("id")


_job: dict[str, str | None] = {}


# How Hydra's PMI reaches its process manager: a socket it hands over (PMI_FD), or an address
# (PMI_PORT, with PMI_HOSTNAME). Without one, MPICH would start as process 0 of PMI_SIZE alone
# and wait for the others forever.
_PMI_CONNECTION = ("PMI_FD", "PMI_PORT")


def _check_process_manager() -> None:
    """PMI_RANK/PMI_SIZE copied into an environment (a shell that ran under mpiexec, a saved
    job environment) without the process manager that set them: say so instead of hanging."""
    if _variables() != _LAUNCHERS[0]:
        return
    fd = os.environ.get("PMI_FD", "")
    if "PMI_PORT" in os.environ or (fd.isdigit() and _is_socket(int(fd))):
        return
    found = f"PMI_FD={fd}, which is not an open socket" if fd else "neither PMI_FD nor PMI_PORT"
    raise RuntimeError(
        f"PMI_RANK={os.environ['PMI_RANK']} and PMI_SIZE={os.environ['PMI_SIZE']} are set, but no "
        f"MPI process manager started this process ({found}): the variables are stale. Start "
        f"the job with mpiexec (or spmd-run --mpi), or unset PMI_RANK and PMI_SIZE to run alone")


def _is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def coordinator_host(hosts: list[str]) -> str:
    """Rank 0's host for the coordinator, given every rank's host name (rank 0's first):
    loopback when they are all one host; else rank 0's name, unless it resolves to loopback
    here (Debian's 127.0.1.1), where the local address of the route to another rank's host
    serves instead."""
    if len(set(hosts)) == 1:
        return LOOPBACK
    if not resolves_to_loopback(hosts[0]):
        return hosts[0]
    for other in hosts[1:]:
        if other != hosts[0] and not resolves_to_loopback(other):
            try:
                return route_source_address(other, 9)  # no packet is sent; any port would do
            except (OSError, RuntimeError):
                continue
    raise RuntimeError(f"rank 0's host name {hosts[0]!r} resolves to loopback on its host, and "
                       f"no other rank's host name leads to an address there, but the job "
                       f"spans hosts {sorted(set(hosts))}: map the host names to network "
                       f"addresses in /etc/hosts, or set SPMD_COORDINATOR to an address of rank "
                       f"0's host that the others reach (e.g. 10.0.0.1:12345)")
