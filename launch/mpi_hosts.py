"""spmd-run --mpi with a host list: what Hydra's mpiexec and UCX are told.

Hydra gets `-hosts a:N,b:M` (it fills a's slots first, as spmd-run lays ranks out) and starts its
proxies with its ssh launcher, or with --ssh's / $SPMD_SSH's command: Hydra's -launcher-exec
takes one program, so a command with options becomes a small script that runs it with Hydra's
arguments. The mpich wheel's MPICH uses the ch4:ucx netmod: UCX_TLS chooses its transports.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import tempfile

from spmd.launch import ssh_launch
from spmd.launch.hosts import HostSlots

ONE_HOST_TRANSPORTS = "self,sm,cma"  # shared memory only: UCX opens no TCP listener
SEVERAL_HOSTS_TRANSPORTS = "self,sm,cma,tcp"


def ucx_transports(placement: list[str] | None) -> str:
    """UCX_TLS for ranks on these hosts (None: all on this machine)."""
    return SEVERAL_HOSTS_TRANSPORTS if placement and len(set(placement)) > 1 \
        else ONE_HOST_TRANSPORTS


def _hosts_option(host_list: list[HostSlots]) -> str:
    return ",".join(f"[{h.name}]:{h.slots}" if ":" in h.name else f"{h.name}:{h.slots}"
                    for h in host_list)


@contextlib.contextmanager
def hydra_options(host_list: list[HostSlots] | None, ssh_option: str | None):
    """mpiexec's options for the host list (none without one), valid inside the `with`."""
    if host_list is None:
        yield []
        return
    options = ["-hosts", _hosts_option(host_list)]
    if not (ssh_option or os.environ.get(ssh_launch.SSH_VARIABLE)):
        yield options  # Hydra's own ssh launcher
        return
    ssh = ssh_launch.ssh_command(ssh_option)
    if len(ssh) == 1:
        yield [*options, "-launcher", "ssh", "-launcher-exec", ssh[0]]
        return
    with tempfile.TemporaryDirectory(prefix="spmd-run-ssh-") as folder:
        wrapper = os.path.join(folder, "ssh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {shlex.join(ssh)} "$@"\n')
        os.chmod(wrapper, 0o755)
        yield [*options, "-launcher", "ssh", "-launcher-exec", wrapper]
