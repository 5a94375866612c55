"""Processes started by `spmd-run` (or anything that sets the same variables)."""
from __future__ import annotations

import os
import secrets

from spmd.cluster.cluster_env import JOB_ID, ClusterEnv, int_variable

COORDINATOR = "SPMD_COORDINATOR"
NUM_PROCESSES = "SPMD_NUM_PROCESSES"
PROCESS_ID = "SPMD_PROCESS_ID"
LOCAL_RANK = "SPMD_LOCAL_RANK"


def job_environment(coordinator: str, num_processes: int, process_id: int,
                    local_rank: int | None = None, job_id: str | None = None) -> dict[str, str]:
    """The variables a launcher sets in process `process_id` of a job. The job id defaults to
    this launcher's own (one launcher process starts one job)."""
    env = {COORDINATOR: coordinator, NUM_PROCESSES: str(num_processes),
           PROCESS_ID: str(process_id), JOB_ID: job_id or _LAUNCHER_JOB_ID}
    if local_rank is not None:
        env[LOCAL_RANK] = str(local_rank)
    return env


_LAUNCHER_JOB_ID = secrets.token_hex(8)


class SpmdRunEnv(ClusterEnv):
    name = "spmd-run"
    priority = 10
    env_vars = (COORDINATOR, NUM_PROCESSES, PROCESS_ID, LOCAL_RANK, JOB_ID)

    @classmethod
    def is_present(cls) -> bool:
        return all(v in os.environ for v in (COORDINATOR, NUM_PROCESSES, PROCESS_ID))

    @classmethod
    def coordinator_address(cls) -> str:
        return os.environ[COORDINATOR]

    @classmethod
    def process_count(cls) -> int:
        return int_variable(NUM_PROCESSES)

    @classmethod
    def process_id(cls) -> int:
        return int_variable(PROCESS_ID)

    @classmethod
    def local_rank(cls) -> int | None:
        return int_variable(LOCAL_RANK) if LOCAL_RANK in os.environ else None

