"""Coordinator addresses: parse 'host:port', pick a free port, wait until a port listens."""
from __future__ import annotations

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
    """A port nothing listens on at `host` right now (the OS picks it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
