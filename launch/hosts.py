"""Host lists for `spmd-run --hosts a,b:2` and `--hostfile FILE`: which hosts, how many
processes each may take (slots), where each rank goes, and which hosts are this machine.

A host file has one host per line, `host`, `host slots=N` or `host:N` (the forms that Hydra's
mpiexec and horovodrun accept); `#` starts a comment; blank lines are skipped. A host without a
count has one slot. Ranks are laid out host by host: the first host's slots take ranks 0, 1, ...
"""
from __future__ import annotations

import dataclasses
import re
import socket

from spmd.cluster.addresses import LOOPBACK, resolves_to_loopback


class HostError(ValueError):
    """A host list that cannot be used: its text, its slots, or a name that does not resolve."""


@dataclasses.dataclass(frozen=True)
class HostSlots:
    name: str   # as the user wrote it: a host name or an address
    slots: int


_WITH_COUNT = re.compile(r"^(?P<name>\[[^\]]+\]|[^\s:]+):(?P<slots>[^\s:]+)$")  # host:N, [v6]:N
_SLOTS = re.compile(r"^slots=(?P<slots>\S+)$")


def _slots(text: str, where: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise HostError(f"{where}: the slot count must be a whole number of at least 1, "
                         f"got {text!r}")
    return int(text)


def _one_host(text: str, where: str) -> HostSlots:
    """'host', 'host:N' or 'host slots=N'."""
    words = text.split()
    if len(words) == 2 and _SLOTS.match(words[1]):
        return HostSlots(words[0].strip("[]"), _slots(_SLOTS.match(words[1])["slots"], where))
    if len(words) != 1:
        raise HostError(f"{where}: expected 'host', 'host:N' or 'host slots=N', got {text!r}")
    match = _WITH_COUNT.match(words[0])
    if match:
        return HostSlots(match["name"].strip("[]"), _slots(match["slots"], where))
    return HostSlots(words[0].strip("[]"), 1)  # a bare name, or a bare IPv6 address


def _distinct(hosts: list[HostSlots], where: str) -> list[HostSlots]:
    if not hosts:
        raise HostError(f"{where} names no host")
    seen = set()
    for h in hosts:
        if h.name in seen:
            raise HostError(f"{where} lists host {h.name!r} twice; give it once, with its "
                             f"slot count (host:N)")
        seen.add(h.name)
    return hosts


def parse_host_list(text: str) -> list[HostSlots]:
    """`--hosts a,b:2,[fe80::1]:4`."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    return _distinct([_one_host(item, f"--hosts {text!r}") for item in items],
                     f"--hosts {text!r}")


def parse_hostfile(text: str, path: str = "host file") -> list[HostSlots]:
    hosts = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            hosts.append(_one_host(line, f"{path}, line {number}"))
    return _distinct(hosts, path)


def read_hostfile(path: str) -> list[HostSlots]:
    try:
        with open(path) as f:
            return parse_hostfile(f.read(), path)
    except OSError as e:
        raise HostError(f"cannot read the host file {path}: {e.strerror}") from None


def describe(hosts: list[HostSlots]) -> str:
    return ", ".join(f"{h.name} ({h.slots})" for h in hosts)


def layout(hosts: list[HostSlots], n: int) -> list[str]:
    """The host of each of `n` ranks, filling each host's slots before the next host's."""
    total = sum(h.slots for h in hosts)
    if n > total:
        raise HostError(f"-n {n} needs {n} slots, but the hosts have {total}: "
                         f"{describe(hosts)}; add hosts or slots (host:N, or 'host slots=N' "
                         f"in a host file), or lower -n")
    return [h.name for h in hosts for _ in range(h.slots)][:n]


def resolve(name: str) -> str:
    """The IPv4 (else IPv6) address `name` stands for, with a clear error for an unknown one."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise HostError(f"unknown host {name!r} in the host list: it does not resolve "
                         f"({e.strerror}); check its spelling, or give its address") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][4][0]


def is_this_machine(name: str) -> bool:
    """True for a name of this machine (its host name, 'localhost') or an address of its own:
    one it can bind a socket to."""
    if name in ("localhost", socket.gethostname(), socket.gethostname().split(".")[0]):
        return True
    address = resolve(name)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


def coordinator_host(first: str, spans_hosts: bool, route_to=None) -> str:
    """The address of the first host that every rank can reach: loopback for a job on this
    machine alone, else the first host's address. A first host that resolves to loopback while
    the job spans hosts (e.g. a Debian host name mapped to 127.0.1.1) is this machine:
    `route_to()` then gives the address through which the other hosts reach it."""
    if not spans_hosts:
        return LOOPBACK if is_this_machine(first) else resolve(first)
    if resolves_to_loopback(first):
        if route_to is None:
            raise HostError(f"the first host {first!r} resolves to loopback, which the other "
                             f"hosts cannot reach; name it by an address they can reach")
        return route_to()
    return resolve(first)
