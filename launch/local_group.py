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
    def __init__(self, labels: list[str], commands: list[list[str]], envs: list[dict]):
        self.labels = labels
        self.procs = [subprocess.Popen(cmd, env=env, start_new_session=True,
                                       preexec_fn=die_with_parent)
                      for cmd, env in zip(commands, envs)]

    def poll(self) -> dict[int, int]:
        return {i: p.returncode for i, p in enumerate(self.procs) if p.poll() is not None}

    def signal(self, sig: int, members: list[int]) -> None:
        for i in members:
            try:
                os.killpg(self.procs[i].pid, sig)
            except ProcessLookupError:
                pass
