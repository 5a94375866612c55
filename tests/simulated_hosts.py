"""Two simulated hosts on this machine, for the tests of jobs across hosts.

Each host is a network namespace with a host name of its own; the two are joined only to each
other by a veth pair (a private /24 of their own), with no interface in the root namespace and
no route out, so nothing a test starts can reach any address outside the two. A process runs
"on" a host through `Host.command(argv)`: `ip netns exec` (which also puts the host's
/etc/netns/NAME/hosts in place of /etc/hosts) and `unshare --uts` with the host's name set.
Creating them needs root; `skip_reason()` says why they cannot be made elsewhere."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

SUBNET = "10.213.{}.{}"


@dataclasses.dataclass(frozen=True)
class Host:
    name: str        # its host name, resolvable on both hosts through their hosts files
    namespace: str   # the network namespace it lives in
    address: str     # its address on the veth link
    interface: str = ""  # the name of its end of the veth link

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run on this host: in its namespace, under its host name, with lo up."""
        inner = f'ip link set lo up && hostname {self.name} && exec "$@"'
        return ["ip", "netns", "exec", self.namespace, "unshare", "--uts", "sh", "-c", inner,
                "sh", *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def skip_reason() -> str | None:
    """Why two simulated hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "simulated hosts need root (network namespaces and a veth pair)"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"simulated hosts need `{tool}`, which is not installed"
    probe = f"spmdprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as e:
        return f"cannot create a network namespace: {e.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


class HostPair:
    """Create with `HostPair.create()`, end with `remove()` (it kills what still runs there)."""

    def __init__(self, tag: str, subnet: int, own_name_on_loopback: bool = False):
        self.tag = tag
        self.own_name_on_loopback = own_name_on_loopback
        # interface names: at most 15 characters
        self.hosts = tuple(Host(f"spmd-host{i}-{tag}", f"spmd-{tag}-{i}", SUBNET.format(subnet, i),
                                f"sh{tag}{side}") for i, side in ((1, "a"), (2, "b")))

    @classmethod
    def create(cls, subnet: int = 0, own_name_on_loopback: bool = False) -> "HostPair":
        """`own_name_on_loopback`: each host's hosts file maps its own name to 127.0.1.1, as
        Debian and Ubuntu install it (the other host's name still resolves to its address).
        Such a pair has names and namespaces of its own, so it can live beside a default one."""
        tag = f"{os.getpid()}{'L' if own_name_on_loopback else ''}"
        pair = cls(tag, subnet, own_name_on_loopback)
        try:
            pair._build()
        except BaseException:
            pair.remove()
            raise
        return pair

    def _build(self) -> None:
        a, b = self.hosts
        link = [host.interface for host in self.hosts]
        for host in self.hosts:
            _ip("netns", "add", host.namespace)
        _ip("link", "add", link[0], "netns", a.namespace, "type", "veth",
            "peer", "name", link[1], "netns", b.namespace)
        for host, dev in zip(self.hosts, link):
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", dev)
            _ip("-n", host.namespace, "link", "set", dev, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            etc = f"/etc/netns/{host.namespace}"
            os.makedirs(etc, exist_ok=True)
            with open(f"{etc}/hosts", "w") as f:
                own = "127.0.1.1" if self.own_name_on_loopback else host.address
                f.write(f"127.0.0.1 localhost\n{own} {host.name}\n")
                for other in self.hosts:
                    if other is not host:
                        f.write(f"{other.address} {other.name}\n")

    def remove(self) -> None:
        for host in self.hosts:
            pids = subprocess.run(["ip", "netns", "pids", host.namespace], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
            shutil.rmtree(f"/etc/netns/{host.namespace}", ignore_errors=True)
