"""A private network namespace with only loopback: where a local Ray instance must run.

Started on an ordinary network, Ray 2.60 listens on the machine's outside address and its
dashboard probes the cloud-metadata address and public DNS, whatever the settings. Inside a
namespace of its own (`unshare --net`, loopback brought up) it binds 127.0.0.1 by itself and
any outside attempt fails at once (../shared/reference/ray-and-mpi-on-loopback.md)."""
from __future__ import annotations

import subprocess

# Per network namespace, unlike /sys/class/net (which shows the namespace sysfs was mounted in)
_NET_DEV = "/proc/self/net/dev"
# `exec "$@"` keeps the command's pid, stdin/stdout and exit status
_LOOPBACK_UP = 'ip link set lo up && exec "$@"'


def interfaces() -> list[str]:
    """The network interfaces of this process's namespace."""
    with open(_NET_DEV) as f:
        return sorted(line.split(":")[0].strip() for line in f.readlines()[2:])


def only_loopback() -> bool:
    """True when this process's network namespace has no interface but `lo`."""
    return interfaces() == ["lo"]


def private_network_command(command: list[str]) -> list[str]:
    """`command` run in a new network namespace whose only interface is loopback, up."""
    return ["unshare", "--net", "sh", "-c", _LOOPBACK_UP, "sh", *command]


def unshare_problem() -> str | None:
    """Why a private network namespace cannot be made here, or None when it can."""
    try:
        done = subprocess.run(private_network_command(["true"]), capture_output=True,
                              text=True, timeout=30)
    except FileNotFoundError as e:
        return f"{e.filename} is not installed"
    except subprocess.TimeoutExpired:
        return "unshare --net did not finish within 30 s"
    if done.returncode != 0:
        return (done.stderr.strip() or f"exit code {done.returncode}")
    return None
