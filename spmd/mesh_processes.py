"""A jit over a mesh whose devices belong to several processes gets the checks pmap's programs
have across processes (installed into transforms/partitioned_jit.py, which cannot reach this
layer): before its first run, every process must have built the same program (through the
coordinator's key-value store, spmd/pmap_agreement.py), every run checks that all processes
run it at the same call (transforms/partitioned_call_order.py, with pmap's ids and messages,
spmd/pmap_call_order.py), and each execution is watched for a process that never joins it
(cluster/stall_watch.py). A failed collective between the processes
says so, after any call-order mismatch a pmap found (which must stop every later program).
A host value that device_put lays out over the devices of several processes must be the same
in each (JAX asserts it too): the processes compare digests of it."""
from __future__ import annotations

import zlib

import numpy as np

from spmd import pmap_call_order
from spmd.cluster import host_collectives, stall_watch
from spmd.pmap_agreement import describe
from spmd.transforms import mesh_placement, partitioned_jit


class JobChecks(partitioned_jit.CrossProcessChecks):
    def before(self) -> None:
        pmap_call_order.raise_if_failed()

    def agree(self, name: str, in_avals, out_avals, text: str) -> None:
        host_collectives.check_agreement("the jit program over a mesh",
                                         describe(name, in_avals, out_avals, text))

    def track(self, name: str):
        return stall_watch.Tracked(name, "jit").run

    def program_id(self, name: str, text: str) -> int:
        return pmap_call_order.program_id(name, text, "jit")

    def pair(self, pid: int, calls: int) -> np.ndarray:
        return pmap_call_order.pair(pid, calls)

    def verify(self, mine: np.ndarray, reduced: np.ndarray) -> None:
        pmap_call_order.verify(mine, reduced)

    def failed(self, name: str, error: Exception) -> Exception:
        pmap_call_order.raise_if_failed()
        return RuntimeError(
            f"jit of {name} runs over a mesh spanning the devices of several processes, and a "
            f"collective between them failed: {str(error).splitlines()[0]}. Another process of "
            "the job probably died or stopped; see its output")


def check_same_value(host: np.ndarray, what: str) -> None:
    """Raise on every process unless all pass the same host value (its shape, dtype and a
    CRC-32 of its bytes: the value itself may be large)."""
    digest = f"{host.dtype}{list(host.shape)} crc32 {zlib.crc32(host.tobytes()):08x}"
    host_collectives.check_agreement(f"{what} (every process must pass the same value)",
                                     digest)


partitioned_jit.cross_process_checks[0] = JobChecks()
mesh_placement.same_everywhere[0] = check_same_value
