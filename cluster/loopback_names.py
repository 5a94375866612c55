"""A coordinator host name that resolves to loopback in a job across hosts: fail at once.

Debian and Ubuntu map a machine's own name to 127.0.1.1 in /etc/hosts. A job whose coordinator
is such a name (Slurm's first node, a host name typed by hand) had process 0 listen on
127.0.1.1 while the other hosts, which resolve the name to its real address, were refused
until the initialization timeout (300 s), in silence. Now every process that resolves the name
to loopback fails at once, naming the name, what it resolves to and what to do; and process 0
tells the processes of other hosts, which cannot see the problem themselves, through a notice
served for a few seconds on the coordinator's port (they read it while waiting for the
coordinator: `read_notice`)."""
from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time

from spmd.cluster.addresses import (COORDINATOR_BIND, HOST_ADDRESS, resolves_to_loopback,
                                    split_address)

_NOTICE = b"spmd-coordinator-notice\n"  # what starts process 0's notice (gRPC never sends it)
NOTICE_SECONDS = 20  # how long process 0 serves it at most


def problem(coordinator_address: str, num_processes: int, spans_hosts: bool | None) -> str | None:
    """The error for a coordinator whose host resolves to loopback here while the job spans
    hosts, or None. `spans_hosts`: whether the launcher says the job spans several hosts (None:
    it cannot tell; then a host *name* other than 'localhost' counts as spanning, since a job
    on one host names its coordinator 127.0.0.1 or localhost)."""
    host, port = split_address(coordinator_address)
    if num_processes < 2 or spans_hosts is False or not resolves_to_loopback(host):
        return None
    if spans_hosts is None and (host == "localhost" or _is_address(host)):
        return None
    resolved = ", ".join(sorted({info[4][0] for info in socket.getaddrinfo(host, None)}))
    why = ("the job spans several hosts" if spans_hosts else
           f"a job of {num_processes} processes whose coordinator is a host name is taken to "
           f"span hosts")
    local = ("" if spans_hosts else
             f" (if every process runs on this host, use 127.0.0.1:{port} or localhost:{port})")
    return (f"the coordinator's host name {host!r} resolves to {resolved} (loopback) on this "
            f"host ({socket.gethostname()}), but {why}: the other hosts could never reach a "
            f"coordinator there, and the job would wait in silence until its initialization "
            f"timeout. Map {host!r} to this host's network address in /etc/hosts (Debian and "
            f"Ubuntu map a host's own name to 127.0.1.1), or set SPMD_COORDINATOR to an "
            f"address the other hosts reach (e.g. 10.0.0.1:{port}), or set {COORDINATOR_BIND}="
            f"0.0.0.0 and {HOST_ADDRESS} to this host's address{local}")


def tolerated(process_id: int, bind_address: str, explicit_host_address: bool) -> bool:
    """The user worked around the loopback name: every process advertises an address it was
    given, and process 0's coordinator listens somewhere the others reach (0.0.0.0)."""
    if not explicit_host_address:
        return False
    return process_id != 0 or not resolves_to_loopback(split_address(bind_address)[0])


def serve_notice(port: int, message: str, readers: int, host: str = "0.0.0.0") -> None:
    """Answer connections to `port` with `message`, in a thread, until `readers` were answered
    or NOTICE_SECONDS passed (the process lives on until then). On every interface by default:
    the others reach this host at an address that only they know. Best effort: nothing is
    served when the port cannot be had."""
    try:
        server = socket.create_server((host, port))
    except OSError:
        return
    server.settimeout(0.2)
    payload = _NOTICE + message.encode()
    print(f"spmd: process 0 tells the other processes why the job cannot start, for up to "
          f"{NOTICE_SECONDS} s", file=sys.stderr, flush=True)

    def serve():
        # Not a daemon: the process raises its own error at once, and lives on only to tell.
        deadline, answered = time.monotonic() + NOTICE_SECONDS, 0
        with server:
            while answered < readers and time.monotonic() < deadline:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                with conn:
                    conn.sendall(payload)
                answered += 1
    threading.Thread(target=serve, name="spmd-coordinator-notice").start()


def read_notice(sock: socket.socket) -> None:
    """Raise process 0's notice when `sock` reached it instead of a coordinator (a coordinator
    sends nothing before the client speaks, or HTTP/2 frames)."""
    sock.settimeout(0.3)
    data = b""
    try:
        while len(data) < len(_NOTICE) or data.startswith(_NOTICE):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    if data.startswith(_NOTICE):
        raise CoordinatorRefused(f"process 0 could not start the coordinator: "
                                 f"{data[len(_NOTICE):].decode(errors='replace')}")


class CoordinatorRefused(RuntimeError):
    """Process 0 told this process why the job cannot start."""


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
