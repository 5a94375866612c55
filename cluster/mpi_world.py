"""MPI_COMM_WORLD for a job that mpiexec did not start (spmd-run, Ray, srun, by hand).

Every process is its own MPICH process manager (cluster/pmi_server.py): a thread answers its
MPI_Init over PMI-1, backed by the job's coordinator, so the job's processes become the ranks
of one MPI world in process order, and pmap's MPI transport runs on it as under mpiexec.

Two traps shape the code. mpi4py calls MPI_Init holding the GIL, so the serving thread could
not answer it (the job hangs): it is called through ctypes, which releases the GIL, and mpi4py
is told not to initialize or finalize MPI itself (`leave` says why nothing finalizes it).
And MPICH learns of its process manager from PMI_FD/PMI_RANK/PMI_SIZE, which also say
"mpiexec started me" (to spmd's own launcher detection, and to any child that runs MPI): they
exist only during this process's MPI_Init.
"""
from __future__ import annotations

import ctypes
import json
import os
import socket
from contextlib import contextmanager

from spmd.cluster.pmi_server import PmiServer

PREFIX = "spmd/mpi_world"
# UCX (MPICH's netmod in the mpich wheel) would otherwise listen on every interface; shared
# memory is all that ranks on one host need (as spmd-run --mpi sets for a one-host job).
ONE_HOST_UCX_TRANSPORTS = "self,sm,cma"
SEGMENT_PREFIX = "/dev/shm/mpich_"  # MPICH's shared memory between the ranks of one host


class MpiWorldUnavailable(RuntimeError):
    """The job's processes cannot form an MPI world; the message says which one and why.
    `everywhere`: every process raised it (a cause found before MPI_Init), not only this one."""

    def __init__(self, message: str, everywhere: bool = False):
        super().__init__(message)
        self.everywhere = everywhere


_world: dict = {}  # this process's world (its PMI server), once formed
_formed_before = False  # MPI_Init ran in this process (for an earlier job, after leave())


def problem_here() -> str | None:
    """Why this process cannot join an MPI world formed this way (None: it can)."""
    try:
        import mpi4py
    except ImportError:
        return "mpi4py is not installed (pip install mpi4py mpich)"
    mpi4py.rc.initialize = False  # MPI_Init is ours (without the GIL): see the module's doc
    mpi4py.rc.finalize = False
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as e:  # no MPI library mpi4py can load
        return f"mpi4py cannot load an MPI library ({str(e).splitlines()[0]})"
    if _formed_before:
        return ("this process formed an MPI world for an earlier job (before "
                "spmd.distributed.shutdown()), and MPI starts only once per process")
    if MPI.Is_initialized():
        return ("MPI is already initialized in this process (the script imported mpi4py.MPI "
                "before spmd.distributed.initialize(); import it after)")
    if "MPICH" not in MPI.Get_library_version():
        return (f"mpi4py's MPI is not MPICH ({MPI.Get_library_version().splitlines()[0]}); "
                f"only MPICH's process-manager protocol (PMI-1) is served")
    return None


def form(store, rank: int, size: int, timeout_ms: int):
    """Make this process rank `rank` of an MPI world of `size` processes; every process of the
    job calls it at the same point. Returns mpi4py's COMM_WORLD. Raises MpiWorldUnavailable,
    the same on every process, when any process cannot join (nothing initialized then)."""
    global _formed_before
    me = {"problem": problem_here(), "host": socket.gethostname()}
    store.key_value_set(f"{PREFIX}/process/{rank}", json.dumps(me), allow_overwrite=True)
    everyone = [json.loads(store.blocking_key_value_get(f"{PREFIX}/process/{i}", timeout_ms))
                for i in range(size)]
    for i, process in enumerate(everyone):
        if process["problem"] is not None:
            raise MpiWorldUnavailable(f"process {i}: {process['problem']}", everywhere=True)
    if rank == 0:  # one name per job: it names MPICH's world and shared-memory segments
        store.key_value_set(f"{PREFIX}/kvsname", f"spmd-{os.getpid()}-{os.urandom(4).hex()}",
                            allow_overwrite=True)
    kvsname = store.blocking_key_value_get(f"{PREFIX}/kvsname", timeout_ms)
    server = PmiServer(store, rank, size, kvsname, f"{PREFIX}/{kvsname}", timeout_ms)
    variables = {"PMI_FD": str(server.start()), "PMI_RANK": str(rank), "PMI_SIZE": str(size)}
    if len({process["host"] for process in everyone}) == 1 and "UCX_TLS" not in os.environ:
        variables["UCX_TLS"] = ONE_HOST_UCX_TRANSPORTS
    from mpi4py import MPI
    libmpi = ctypes.CDLL(_loaded_libmpi())
    provided = ctypes.c_int()
    _formed_before = True
    with _only_during(variables):
        code = libmpi.MPI_Init_thread(None, None, MPI.THREAD_MULTIPLE, ctypes.byref(provided))
    _world.update(server=server)
    if code != 0:
        raise MpiWorldUnavailable(f"process {rank}: MPI_Init_thread failed with code {code}")
    comm = MPI.COMM_WORLD
    if (comm.Get_rank(), comm.Get_size()) != (rank, size):
        raise MpiWorldUnavailable(f"process {rank} of {size} became MPI rank {comm.Get_rank()} "
                                  f"of {comm.Get_size()}")
    # Every rank has mapped the host's shared-memory segment once all are past MPI_Init: its
    # name is no longer needed, and without it nothing stays in /dev/shm however the job ends
    # (MPICH removes it only when every rank of the host finalizes; a killed rank never does).
    store.wait_at_barrier(f"{PREFIX}/{kvsname}/initialized", timeout_ms)
    _remove_shared_memory_names()
    return comm


def formed() -> bool:
    return bool(_world)


def leave() -> None:
    """Leave the world when this process leaves the job: stop the thread (and remove the name
    of any segment MPICH mapped since MPI_Init). Nothing when no world was formed.
    Not MPI_Finalize: it is collective, so a process leaving would wait for every other, and
    one waiting for it in a collective (the processes out of step) would never come: a hang
    where gloo fails at once. Its one lasting effect, removing the shared-memory segment's
    name, `form` did already."""
    if not _world:
        return
    _remove_shared_memory_names()  # any MPICH mapped after MPI_Init
    _world.pop("server").stop()
    _world.clear()


_sub_communicators: dict[tuple[int, ...], object] = {}  # ranks -> their communicator


def sub_communicator(comm, ranks: tuple[int, ...]):
    """The communicator of `ranks` of the world `comm` (ranked in their order), or a null one
    in the ranks not among them. Made by MPI_Comm_split, collective over the whole world: every
    rank asks for the same ranks at the same point (pmap's all-reduces with axis_index_groups
    do, inside their callbacks: collectives/mpi_all_reduce.py). Made once per set of ranks, in
    this world or mpiexec's; freed by `free_sub_communicators` when the process leaves the
    job."""
    found = _sub_communicators.get(ranks)
    if found is None:
        from mpi4py import MPI
        me = comm.Get_rank()
        found = comm.Split(0 if me in ranks else MPI.UNDEFINED, me)
        _sub_communicators[ranks] = found
    return found


def free_sub_communicators() -> None:
    """Free the sub-communicators made in this job (MPICH frees one without waiting for the
    other ranks, so a process leaving alone does not hang here)."""
    made = list(_sub_communicators.values())
    _sub_communicators.clear()
    for comm in made:
        if comm:  # (a null communicator in the ranks outside)
            comm.Free()


def _remove_shared_memory_names() -> None:
    """Remove the names of MPICH's /dev/shm segments that this process maps (the memory
    stays until the last rank unmaps it: when the processes end)."""
    with open("/proc/self/maps") as f:
        paths = {line.split(None, 5)[5].strip() for line in f
                 if SEGMENT_PREFIX in line and not line.rstrip().endswith("(deleted)")}
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:  # another rank of this host removed it first
            pass


def _loaded_libmpi() -> str:
    """The MPI library mpi4py loaded (its path from this process's memory maps)."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "/libmpi" in path and ".so" in path:
                return path
    raise MpiWorldUnavailable("mpi4py is imported, but no libmpi is loaded in this process")


@contextmanager
def _only_during(variables: dict[str, str]):
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
