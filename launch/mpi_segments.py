"""The shared-memory segments of an MPICH job, removed when the job ends.

MPICH's ranks on one host share a segment /dev/shm/mpich_shm_<world id>_<node> (the world id
hashes the job's PMI key-value space name, which only Hydra knows). The last rank to leave
MPI_Finalize removes it; a rank killed or aborted, mpiexec killed, or Ctrl-C leave it behind
(2 MiB each, until reboot). spmd-run --mpi learns the job's own segments from the memory maps
of mpiexec's processes while they run, and removes those that remain once the job has ended:
never a segment of another job.
"""
from __future__ import annotations

import os
import time

from spmd.launch.local_group import LocalGroup

SHM = "/dev/shm/"
_PREFIX = SHM + "mpich_"
SCAN_SECONDS = 0.5  # how often the ranks' maps are read until the segment is found


class MpiGroup(LocalGroup):
    """mpiexec as the only member (it starts the ranks in its session), noting the ranks'
    MPICH segments as they appear."""

    def __init__(self, command: list[str], env: dict):
        super().__init__(["mpiexec"], [command], [env])
        self.segments: set[str] = set()
        self._next_scan = time.monotonic()

    def poll(self) -> dict[int, int]:
        ended = super().poll()
        if not self.segments and time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + SCAN_SECONDS
            self.segments |= segments_of_descendants(self.procs[0].pid)
        return ended

    def remove_leftovers(self) -> list[str]:
        """Remove the job's segments that are still there; the paths removed."""
        self.segments |= segments_of_descendants(self.procs[0].pid)  # ranks that linger
        removed = []
        for path in sorted(self.segments):
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:  # MPICH removed it (the job ended cleanly)
                pass
        return removed


def segments_of_descendants(root: int) -> set[str]:
    """The MPICH segments mapped by the processes that `root` (mpiexec) started, at any
    depth (Hydra's proxy puts each rank in a session of its own)."""
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parents[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
    found, family = set(), {root}
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in family} - family
        family |= new
        grew = bool(new)
    for pid in family - {root}:
        try:
            with open(f"/proc/{pid}/maps") as f:
                found |= {line.split(None, 5)[5].strip() for line in f
                          if _PREFIX in line and not line.rstrip().endswith("(deleted)")}
        except (OSError, IndexError):  # ended meanwhile, or not ours to read
            continue
    return found
