"""A job's identity, checked before any process hands itself to the coordination service.

Two dangers sit behind jaxlib's `client.connect()`, and neither can be caught afterwards:
- a process registering with a task id that another process of the coordinator's job already
  holds is taken for a restart of that task, and the service ends the whole running job;
- a coordinator address that leads to anything but a coordination service (an HTTP server, a
  silent listener), or a job whose processes never all arrive, aborts the process (SIGABRT,
  a C++ stack trace) when the timeout runs out.
So process 0 serves, beside the coordinator, a small line protocol on the next port of the
same bind address (never on all interfaces unless the coordinator itself is): a process says
which job it belongs to (a job id that the launcher set in every process, or none), which
process it is and how many the job has; the answer admits it, or says why not (another job, a
different size, its place taken). The service also says who has joined, so every process waits
in Python until the whole job is there, and only then connects. (Not the coordinator's own
port: jaxlib owns it. Not its gRPC metadata: no call there answers before registration.)
"""
from __future__ import annotations

import json
import socket
import threading
import time

from spmd.cluster.addresses import describe_listener, join_address, split_address

PROTOCOL = "spmd-job/1"
_ANSWER_SECONDS = 2.0  # how long one exchange may take before the peer counts as silent
_POLL_SECONDS = 0.1
# Process 0 opens this port before the coordinator's: the coordinator's port listening alone
# for this long means something else holds it (or a job is ending there).
_ALONE_SECONDS = 2.0


def identity_address(coordinator_address: str) -> str:
    """Where the identity of the job served at `coordinator_address` can be asked."""
    host, port = split_address(coordinator_address)
    if port == 65535:
        raise ValueError(f"coordinator address {coordinator_address}: spmd's coordinator also "
                         f"uses the next port, and 65535 has none; pick a lower port")
    return join_address(host, port + 1)


class NotACoordinator(RuntimeError):
    """The coordinator address leads to something other than spmd's coordinator."""


class IdentityServer:
    """Process 0's side: admits each process of its own job once, and says who has joined."""

    def __init__(self, bind_address: str, coordinator_address: str, job_id: str | None,
                 num_processes: int):
        self.job_id, self.num_processes = job_id, num_processes
        self.coordinator_address = coordinator_address
        self.joined = {0}
        self._lock = threading.Lock()
        host, port = split_address(identity_address(bind_address))
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            self._socket.bind((host, port))
            self._socket.listen(64)
        except OSError as e:
            self._socket.close()
            raise RuntimeError(f"cannot start the spmd coordinator on {bind_address}: the next "
                               f"port, {port}, which serves the job's identity, cannot be "
                               f"opened ({e.strerror}); pick a coordinator port whose next "
                               f"port is free too, or let spmd-run choose one") from None
        threading.Thread(target=self._serve, name="spmd-job-identity", daemon=True).start()

    def missing(self) -> list[int]:
        with self._lock:
            return sorted(set(range(self.num_processes)) - self.joined)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()

    def answer(self, request: dict) -> dict:
        """The reply to one request: `status`, or `join` (admits the process when it may)."""
        with self._lock:
            reply = {"protocol": PROTOCOL, "job": self.job_id, "processes": self.num_processes,
                     "joined": sorted(self.joined)}
            if request.get("op") != "join":
                return reply
            problem = self._refusal(request)
            if problem is not None:
                return {**reply, "refused": problem}
            self.joined.add(int(request["process"]))
            reply["joined"] = sorted(self.joined)
            return reply

    def _refusal(self, request: dict) -> str | None:
        here = f"the coordinator at {self.coordinator_address}"
        if request.get("job") != self.job_id:
            return (f"{here} serves another job (job id {self.job_id!r}), not this process's "
                    f"(job id {request.get('job')!r}): two jobs were given the same coordinator "
                    f"address. Give each job its own (spmd-run picks a free port by itself)")
        if request.get("processes") != self.num_processes:
            return (f"{here} serves a job of {self.num_processes} processes, but this process "
                    f"was told the job has {request.get('processes')}: two jobs were given the "
                    f"same coordinator address, or num_processes differs between processes")
        if request.get("process") in self.joined:
            return (f"process {request.get('process')} of the job served by {here} has already "
                    f"joined it: two processes claim the same process id. Is another job "
                    f"using the same coordinator address, or were two processes given the same "
                    f"process_id?")
        return None

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._exchange, args=(conn,), daemon=True).start()

    def _exchange(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(_ANSWER_SECONDS)
                request = json.loads(_read_line(conn))
                if not isinstance(request, dict):
                    return
                conn.sendall(json.dumps(self.answer(request)).encode() + b"\n")
            except (OSError, ValueError):
                pass  # a stranger that does not speak the protocol: say nothing


def ask(coordinator_address: str, request: dict, timeout: float = _ANSWER_SECONDS) -> dict:
    """One exchange with the identity service of `coordinator_address`. OSError when nothing
    listens there; NotACoordinator when what listens does not answer as spmd's does."""
    host, port = split_address(identity_address(coordinator_address))
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(json.dumps(request).encode() + b"\n")
        try:
            reply = json.loads(_read_line(conn))
        except (OSError, ValueError):
            reply = None
    if not isinstance(reply, dict) or reply.get("protocol") != PROTOCOL:
        raise NotACoordinator(f"port {port} next to it does not answer as spmd's coordinator "
                              f"does")
    return reply


def existing_job(coordinator_address: str) -> dict | None:
    """The identity of an spmd job already served at `coordinator_address`, if there is one."""
    try:
        return ask(coordinator_address, {"op": "status"}, timeout=0.5)
    except (OSError, NotACoordinator):
        return None


def join(coordinator_address: str, job_id: str | None, process_id: int, num_processes: int,
         deadline: float, hint_after: float = 10.0, on_slow=None) -> None:
    """Be admitted to the job served at `coordinator_address` before `deadline` (monotonic).
    RuntimeError when it is another job's; NotACoordinator when the address leads to
    something else; TimeoutError (with what was last found) when nothing answers in time.
    `on_slow()` is called once when nothing has answered for `hint_after` s (a hint for the
    user)."""
    request = {"op": "join", "job": job_id, "process": process_id, "processes": num_processes}
    alone_since = None
    hinted = False
    start = time.monotonic()
    while True:
        try:
            reply = ask(coordinator_address, request)
            if "refused" in reply:
                raise RuntimeError(reply["refused"])
            return
        except NotACoordinator as e:
            found = describe_listener(coordinator_address)
            raise NotACoordinator(f"the coordinator address {coordinator_address} leads to "
                                  f"{found}, not to spmd's coordinator ({e})") from None
        except OSError as e:
            last = e.strerror or type(e).__name__
        found = describe_listener(coordinator_address, timeout=0.3)
        now = time.monotonic()
        if found != "nothing listening there":
            alone_since = now if alone_since is None else alone_since
            if now - alone_since > _ALONE_SECONDS:
                raise NotACoordinator(f"the coordinator address {coordinator_address} leads to "
                                      f"{found}, not to spmd's coordinator (which also answers "
                                      f"on the next port, {identity_address(coordinator_address)}"
                                      f": {last} there)")
        else:
            alone_since = None
        if now >= deadline:
            raise TimeoutError(f"{found}: {last}")
        if on_slow is not None and not hinted and now - start > hint_after:
            hinted = True
            on_slow()
        time.sleep(_POLL_SECONDS)


def wait_for_everyone(missing, deadline: float) -> None:
    """Poll `missing()` (the process ids not yet joined) until it is empty; TimeoutError
    naming them at `deadline`."""
    while True:
        waiting = missing()
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(waiting)
        time.sleep(_POLL_SECONDS)


def missing_at(coordinator_address: str):
    """A `missing()` for `wait_for_everyone` that asks the identity service over TCP."""
    def missing() -> list[int]:
        reply = ask(coordinator_address, {"op": "status"})
        return sorted(set(range(reply["processes"])) - set(reply["joined"]))
    return missing


def _read_line(conn: socket.socket, limit: int = 65536) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError("answer too long")
    return data
