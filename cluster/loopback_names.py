"""A coordinator host name that resolves to loopback in a job across hosts: fail at once.

Debian and Ubuntu map a machine's own name to 127.0.1.1 in /etc/hosts. A job whose coordinator
is such a name (Slurm's first node, a host name typed by hand) had process 0 listen on
127.0.1.1 while the other hosts, which resolve the name to its real address, were refused
until the initialization timeout (300 s), in silence. Now every process that resolves the name
to loopback fails at once, naming the name, what it resolves to and what to do. The processes
of the other hosts cannot see the problem (the name resolves to a real address there), and
nothing may listen on all interfaces to tell them: after a few seconds of waiting they say what
the likely cause is (`waiting_hint`), and fail at their initialization timeout."""
from __future__ import annotations

import ipaddress
import socket

from spmd.cluster.addresses import (COORDINATOR_BIND, HOST_ADDRESS, addresses_of,
                                    resolves_to_loopback, split_address)



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
    resolved = ", ".join(addresses_of(host))
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


def waiting_hint(coordinator_address: str, waited: float) -> str:
    """What a process still waiting for the coordinator says: the one cause it cannot see
    from here (process 0's host resolving its own name to loopback)."""
    host, _ = split_address(coordinator_address)
    here = ", ".join(addresses_of(host)) or "nothing"
    return (f"still waiting after {waited:.0f} s for the spmd coordinator at "
            f"{coordinator_address} ({host} is {here} here). If process 0's host maps its own "
            f"name to a loopback address (Debian and Ubuntu put 127.0.1.1 in /etc/hosts), its "
            f"coordinator listens where no other host can reach it: fix /etc/hosts there, or set "
            f"SPMD_COORDINATOR to an address the hosts reach.")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
