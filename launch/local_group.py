"""Members that are processes of this machine, each started in its own session so that a
signal reaches it and everything it started (the rank_output wrapper and the script)."""
from __future__ import annotations

import os
import subprocess
import sys

from spmd.launch.process_death import die_with_parent


def rank_command(script_command: list[str], rank: int | None = None) -> list[str]:
    """`script_command` run under the rank-prefixing wrapper (rank from the environment when
    None, as under mpiexec)."""
    head = [sys.executable, "-m", "spmd.launch.rank_output"]
    return head + (["--rank", str(rank)] if rank is not None else []) + ["--"] + script_command


class LocalGroup:
    """`tethered[i]`: member i's stdin is a pipe that spmd-run holds open and never writes, so
    that it ends when spmd-run does (how an ssh member's remote rank learns that the job ended:
    launch/ssh_launch.py)."""

    def __init__(self, labels: list[str], commands: list[list[str]], envs: list[dict],
                 tethered: list[bool] | None = None):
        self.labels = labels
        tethered = tethered or [False] * len(commands)
        self.procs = [subprocess.Popen(cmd, env=env, start_new_session=True,
                                       preexec_fn=die_with_parent,
                                       stdin=subprocess.PIPE if tie else None)
                      for cmd, env, tie in zip(commands, envs, tethered)]

    def poll(self) -> dict[int, int]:
        return {i: p.returncode for i, p in enumerate(self.procs) if p.poll() is not None}

    def signal(self, sig: int, members: list[int]) -> None:
        for i in members:
            try:
                os.killpg(self.procs[i].pid, sig)
            except ProcessLookupError:
                pass
