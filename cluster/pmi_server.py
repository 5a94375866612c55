"""A PMI-1 process manager for this process's own MPI_Init, backed by the job's coordinator.

MPICH's MPI_Init asks its process manager (Hydra, under mpiexec) for its rank, the job size,
a key-value space and barriers, over the PMI-1 text protocol (MPICH src/pmi/maint/
pmi-1.1.txt: lines of `cmd=<name> key=value ...`). The jaxlib coordinator of every spmd job
has all of these, so each process answers its own MPI_Init from a thread: MPICH gets one end
of a socketpair (PMI_FD), the thread serves the other, forwarding `put`/`get`/`barrier_in`
to the coordinator's key-value store. The processes then share one MPI_COMM_WORLD whose
ranks are spmd's process ids, with no mpiexec, no extra port and no extra process.

The store is anything with jaxlib's client methods `key_value_set(key, value,
allow_overwrite=)`, `blocking_key_value_get(key, timeout_ms)`, `key_value_try_get(key)` and
`wait_at_barrier(name, timeout_ms)`.
"""
from __future__ import annotations

import os
import select
import socket
import sys
import threading

# Job attributes a real process manager may define (Hydra does); MPICH does without them
# (without PMI_process_mapping it exchanges host names through put/get), so a missing one is
# answered at once instead of waited for.
JOB_ATTRIBUTES = ("PMI_process_mapping", "PMI_hwloc_xmlfile", "PMI_mpi_memory_alloc_kinds")


def parse(line: str) -> dict[str, str]:
    """'cmd=put kvsname=a key=b value=c\\ d' -> {'cmd': 'put', ..., 'value': 'c\\ d'}: values
    keep their escapes, so a value read back is sent exactly as it was put."""
    fields, i, n = {}, 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        end = i
        while end < n and line[end] not in " =":
            end += 1
        key = line[i:end]
        if not key:
            break
        if end < n and line[end] == "=":
            stop = end + 1
            while stop < n and line[stop] != " ":
                stop += 2 if line[stop] == "\\" and stop + 1 < n else 1
            fields[key] = line[end + 1:stop]
            i = stop
        else:
            fields[key] = ""
            i = end
    return fields


class PmiServer:
    """Serves one process's PMI-1 connection (rank `rank` of `size`) until `stop()`; keys and
    barriers live under `prefix` in `store`, so two jobs, or two worlds of one job, never
    meet. `kvsname` names MPICH's world and its shared-memory segments: equal within the
    job, different between jobs."""

    def __init__(self, store, rank: int, size: int, kvsname: str, prefix: str,
                 timeout_ms: int):
        self.store, self.rank, self.size = store, rank, size
        self.kvsname, self.prefix, self.timeout_ms = kvsname, prefix, timeout_ms
        self.commands: list[str] = []  # the commands served, in order
        self.aborted: str | None = None  # MPI_Abort's message, if MPICH sent one
        self._barriers = 0
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    def start(self) -> int:
        """Start serving; the file descriptor MPICH talks on (its PMI_FD), now MPICH's."""
        self._conn, theirs = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="spmd-pmi")
        self._thread.start()
        return theirs.detach()  # not closed when the socket object is collected

    def stop(self) -> None:
        """Stop serving (after MPI_Finalize). MPICH's exit handler sends one more `finalize`
        once Python's threads are gone: its answer is written now, so that it neither waits
        forever nor finds a closed socket ("Broken pipe")."""
        if self._thread is None:
            return
        os.write(self._wake_w, b"x")
        self._thread.join()
        self._thread = None
        try:
            self._conn.sendall(b"cmd=finalize_ack rc=0\n")
        except OSError:  # MPICH's end is already closed: nothing will ask
            pass
        self._conn.detach()  # the descriptor stays open until the process ends
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _serve(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self._conn, self._wake_r], [], [])
            if self._conn not in ready:  # stop() woke it, and every request is answered
                return
            data = self._conn.recv(65536)
            if not data:
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                reply = self.answer(parse(line.decode()))
                if reply:
                    self._conn.sendall(reply.encode())

    def answer(self, request: dict[str, str]) -> str:
        """The reply line to one request ('' when the protocol has none)."""
        cmd = request.get("cmd", "")
        self.commands.append(cmd)
        fixed = {"init": "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0",
                 "get_maxes": "cmd=maxes kvsname_max=256 keylen_max=256 vallen_max=1024 rc=0",
                 "get_appnum": "cmd=appnum appnum=0 rc=0",
                 "get_universe_size": f"cmd=universe_size size={self.size} rc=0",
                 "get_my_kvsname": f"cmd=my_kvsname kvsname={self.kvsname} rc=0",
                 "finalize": "cmd=finalize_ack rc=0"}
        if cmd in fixed:
            return fixed[cmd] + "\n"
        if cmd == "put":
            self.store.key_value_set(self._key(request), request.get("value", ""),
                                     allow_overwrite=True)
            return "cmd=put_result rc=0\n"
        if cmd == "get":
            return self._get(request)
        if cmd == "barrier_in":
            return self._barrier()
        if cmd == "abort":
            # MPICH exits by itself after sending this; say why where the user will look
            self.aborted = request.get("mesg", "")
            print(f"spmd: process {self.rank} called MPI_Abort: {self.aborted}",
                  file=sys.stderr, flush=True)
            return ""
        return f"cmd={cmd}_result rc=-1 msg=unsupported_by_spmd\n"

    def _key(self, request: dict[str, str]) -> str:
        return f"{self.prefix}/kvs/{request.get('key', '')}"

    def _get(self, request: dict[str, str]) -> str:
        try:
            if request.get("key") in JOB_ATTRIBUTES:
                value = self.store.key_value_try_get(self._key(request))
            else:  # MPICH gets only after a barrier; wait all the same, in case
                value = self.store.blocking_key_value_get(self._key(request), self.timeout_ms)
        except Exception:  # noqa: BLE001  (the store's NOT_FOUND or DEADLINE_EXCEEDED)
            return "cmd=get_result rc=-1 found=FALSE msg=key_not_found\n"
        return f"cmd=get_result rc=0 found=TRUE value={value}\n"

    def _barrier(self) -> str:
        self._barriers += 1
        try:
            self.store.wait_at_barrier(f"{self.prefix}/barrier/{self._barriers}",
                                       self.timeout_ms)
        except Exception as e:  # noqa: BLE001  (a process that never came: MPICH reports it)
            reason = str(e).splitlines()[0].replace(" ", "_") if str(e) else "failed"
            return f"cmd=barrier_out rc=-1 msg={reason}\n"
        return "cmd=barrier_out rc=0\n"
