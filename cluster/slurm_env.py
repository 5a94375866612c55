"""Processes started by Slurm's srun (one task per process)."""
from __future__ import annotations

import os
import re

from spmd.cluster.addresses import LOOPBACK, join_address
from spmd.cluster.cluster_env import ClusterEnv, int_variable

# Every task must agree on the port without talking: derive it from the job id, inside the
# top 4096 ports (as JAX does, so a job's port is predictable across runs), an even one: the
# coordinator also serves the next port (cluster/job_identity.py), which must not be the next
# job's coordinator.
_PORT_BASE, _PORT_SPAN = 65536 - 4096, 4096


class SlurmEnv(ClusterEnv):
    name = "slurm"
    priority = 40
    env_vars = ("SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_STEP_NUM_NODES",
                "SLURM_JOB_NUM_NODES")

    @classmethod
    def is_present(cls) -> bool:
        # SLURM_PROCID marks a task of a job step; a bare allocation shell has only the job id.
        return all(v in os.environ for v in ("SLURM_JOB_ID", "SLURM_PROCID", "SLURM_NTASKS"))

    @classmethod
    def coordinator_address(cls) -> str:
        port = _PORT_BASE + 2 * (int_variable("SLURM_JOB_ID") % (_PORT_SPAN // 2))
        if cls.spans_hosts() is False:
            return join_address(LOOPBACK, port)
        nodelist = os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_JOB_NODELIST")
        if not nodelist:
            raise RuntimeError("running under Slurm on several nodes, but neither "
                               "SLURM_STEP_NODELIST nor SLURM_JOB_NODELIST is set; pass "
                               "coordinator_address to spmd.distributed.initialize()")
        return join_address(first_host(nodelist), port)

    @classmethod
    def spans_hosts(cls) -> bool | None:
        nodes = os.environ.get("SLURM_STEP_NUM_NODES") or os.environ.get("SLURM_JOB_NUM_NODES")
        return None if nodes is None else nodes != "1"

    @classmethod
    def job_id(cls) -> str | None:
        # a job's steps run one after another or side by side: each is a job of its own
        return f"slurm-{os.environ['SLURM_JOB_ID']}.{os.environ.get('SLURM_STEP_ID', '0')}"

    @classmethod
    def process_count(cls) -> int:
        return int_variable("SLURM_NTASKS")

    @classmethod
    def process_id(cls) -> int:
        return int_variable("SLURM_PROCID")

    @classmethod
    def local_rank(cls) -> int | None:
        return int_variable("SLURM_LOCALID") if "SLURM_LOCALID" in os.environ else None


_BRACKET = re.compile(r"\[([^\]]*)\]")


def first_host(nodelist: str) -> str:
    """The first host of a Slurm hostlist: 'node[001-015,020],gpu1' -> 'node001';
    'rack[2-3]-n[07,09]' -> 'rack2-n07'. Zero padding is kept as written."""
    entry = _first_entry(nodelist.strip())
    if not entry:
        raise ValueError(f"empty Slurm node list {nodelist!r}")

    def first_of(match: re.Match) -> str:
        return match.group(1).split(",")[0].split("-")[0]
    host = _BRACKET.sub(first_of, entry)
    if "[" in host or "]" in host or not host:
        raise ValueError(f"cannot read the first host of the Slurm node list {nodelist!r}")
    return host


def _first_entry(nodelist: str) -> str:
    """Up to the first comma outside brackets."""
    depth = 0
    for i, ch in enumerate(nodelist):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            return nodelist[:i]
    return nodelist
