"""Addresses: parse 'host:port', pick a free port, wait until a port listens, and find the
address of this host that the other hosts of a job can reach."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import time

LOOPBACK = "127.0.0.1"


def split_address(address: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port), with a clear error for anything else."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"coordinator address must look like 'host:port' (e.g. "
                         f"'127.0.0.1:12345'), got {address!r}")
    return host.strip("[]"), int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on at `host` right now (the OS picks it), and whose next port is
    free too: spmd's coordinator serves its job's identity there (cluster/job_identity.py)."""
    for _ in range(100):
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
            if port < 65535:
                try:
                    with socket.socket(_family(host), socket.SOCK_STREAM) as after:
                        after.bind((host, port + 1))
                        return port
                except OSError:
                    pass
    raise RuntimeError(f"found no two free ports in a row on {host}")


def check_bindable(address: str) -> None:
    """Fail with a clear error unless this machine can listen on `address` now."""
    host, port = split_address(address)
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except socket.gaierror as e:
        raise RuntimeError(f"cannot start the spmd coordinator on {address}: the host name "
                           f"{host!r} does not resolve ({e.strerror})") from None
    except OSError as e:
        raise RuntimeError(f"cannot start the spmd coordinator on {address}: {e.strerror}; "
                           f"is another job using port {port}? Pick a free port, or let "
                           f"spmd-run choose one") from None


def wait_until_listening(address: str, timeout: float) -> None:
    """Retry TCP connections to `address` until one succeeds; TimeoutError after `timeout` s."""
    host, port = split_address(address)
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(1.0, left))):
                return
        except OSError as e:
            last_error = e.strerror or type(e).__name__
        if time.monotonic() + 0.1 >= deadline:
            raise TimeoutError(last_error)
        time.sleep(0.1)


def describe_listener(address: str, timeout: float = 1.0) -> str:
    """What listens at `address`, in words, for an error message: nothing, a server that
    speaks first (its greeting), an HTTP server (its status line), or a silent listener."""
    host, port = split_address(address)
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        if isinstance(e, ConnectionRefusedError):
            return "nothing listening there"
        return f"no answer ({e.strerror or type(e).__name__})"
    with conn:
        conn.settimeout(timeout / 2)
        try:
            first = conn.recv(200)  # SSH, SMTP and the like greet first
            if not first:
                return "a server that closed the connection at once"
            return f"a server that greets with {_first_line(first)!r}"
        except socket.timeout:
            pass
        except OSError as e:
            return f"a server that broke the connection ({e.strerror})"
        try:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = conn.recv(200)
        except OSError:
            answer = b""
    if answer.startswith(b"HTTP/"):
        return f"an HTTP server (it answered {_first_line(answer)!r})"
    if answer:
        return f"a server that answered {_first_line(answer)!r}"
    return "a listener that accepts connections but says nothing"


def _first_line(data: bytes) -> str:
    return data.decode("latin-1").splitlines()[0][:80] if data.strip() else repr(data)


HOST_ADDRESS = "SPMD_HOST_ADDRESS"  # overrides the address this process advertises
HOST_INTERFACE = "SPMD_HOST_INTERFACE"  # ... or the network interface whose address it is
COORDINATOR_BIND = "SPMD_COORDINATOR_BIND"  # where process 0's coordinator listens


def addresses_of(host: str) -> list[str]:
    """The addresses `host` resolves to here, sorted (none when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in infos})


def resolves_to_loopback(host: str) -> bool:
    """True when `host` names this machine's loopback (127.0.0.0/8, ::1): 'localhost', and a
    host name that /etc/hosts maps to 127.0.1.1, as Debian and Ubuntu do by default."""
    found = addresses_of(host)
    return bool(found) and all(ipaddress.ip_address(a).is_loopback for a in found)


def route_source_address(host: str, port: int) -> str:
    """The local address of the route to host:port: the address through which this machine
    reaches it, which is the one it can reach this machine at. (Connecting a UDP socket only
    picks the route; nothing is sent.)"""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port))
        except OSError as e:
            raise RuntimeError(f"no route from this host to the coordinator at "
                               f"{join_address(host, port)} ({e.strerror}); set "
                               f"{HOST_ADDRESS} to this host's address") from None
        return s.getsockname()[0]


@dataclasses.dataclass(frozen=True)
class Advertised:
    """How gloo finds the address it gives the others: exactly one of the two is set."""
    address: str | None = None    # this address
    interface: str | None = None  # the address of this network interface (gloo looks it up)


def advertised(coordinator_address: str, host_address: str | None = None,
               host_interface: str | None = None) -> Advertised:
    """What this process tells the other processes of its job for their connections to it
    (gloo's collectives). First match wins: the `host_address` argument, the `host_interface`
    argument, $SPMD_HOST_ADDRESS, $SPMD_HOST_INTERFACE; else loopback when the coordinator is
    on loopback (the whole job is on this machine), else the local address of the route to the
    coordinator. An address is more specific than an interface, so it wins over one given the
    same way; an argument wins over the environment. Both arguments at once is an error."""
    if host_address and host_interface:
        raise ValueError(f"pass host_address ({host_address!r}) or host_interface "
                         f"({host_interface!r}), not both: gloo advertises one address, either "
                         f"the one given or the one of the interface")
    if host_address:
        return Advertised(address=host_address)
    if host_interface:
        return Advertised(interface=checked_interface(host_interface, "host_interface"))
    if os.environ.get(HOST_ADDRESS):
        return Advertised(address=os.environ[HOST_ADDRESS])
    if os.environ.get(HOST_INTERFACE):
        return Advertised(interface=checked_interface(os.environ[HOST_INTERFACE], HOST_INTERFACE))
    host, port = split_address(coordinator_address)
    if resolves_to_loopback(host):
        return Advertised(address=LOOPBACK)
    return Advertised(address=route_source_address(host, port))


def checked_interface(name: str, given_as: str) -> str:
    """`name` when this host has a network interface of that name, else a clear error (gloo
    would abort the process at the first collective)."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        known = ", ".join(sorted(n for _, n in socket.if_nameindex()))
        raise ValueError(f"{given_as}={name!r}: this host has no network interface of that "
                         f"name (it has: {known}); name one of them, or give an address with "
                         f"{HOST_ADDRESS} / host_address") from None
    return name


def coordinator_bind_address(coordinator_address: str, explicit: str | None = None) -> str:
    """Where process 0's coordinator listens: `explicit`, else $SPMD_COORDINATOR_BIND, else the
    coordinator address itself. The bind address may differ from the one the others use
    (0.0.0.0 behind NAT); given without a port ('0.0.0.0'), it takes the coordinator's port."""
    chosen = explicit or os.environ.get(COORDINATOR_BIND)
    if not chosen:
        return coordinator_address
    # '[v6]:port' and 'host:port' carry a port; 'host', 'v6' and '[v6]' do not
    has_port = "]:" in chosen if chosen.startswith("[") else chosen.count(":") == 1
    if has_port:
        return chosen
    return join_address(chosen.strip("[]"), split_address(coordinator_address)[1])


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
