"""Where does this process run? One small class per launcher answers it.

Each subclass of `ClusterEnv` knows one way processes get started (spmd-run, mpiexec, a Ray
worker of spmd, Slurm) and answers, from what that launcher leaves in the process: is this my
environment, where is the coordinator, how many processes are there, which one am I, and which
one am I on this host. Subclasses register themselves; `detect()` asks them in priority order.
"""
from __future__ import annotations

import operator
import os
from dataclasses import dataclass
from typing import Sequence

from spmd.cluster.addresses import split_address

# A job's id under any launcher (spmd-run sets it; set it by hand for jobs started by hand):
# a process joins only a coordinator that serves the same id.
JOB_ID = "SPMD_JOB_ID"


class ClusterEnv:
    """One launcher's answers. Subclasses set `name`, `priority` (lower is asked first) and
    `env_vars` (every variable the class reads, so tests can clear them all)."""
    name: str = ""
    priority: int = 100
    env_vars: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # JAX's names for the same method (cluster_detection_method)
    registry: list[type[ClusterEnv]] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        ClusterEnv.registry.append(cls)

    @classmethod
    def is_present(cls) -> bool:
        raise NotImplementedError(f"{cls.__name__} must implement is_present")

    @classmethod
    def coordinator_address(cls) -> str:
        """'host:port' of process 0's coordinator, the same string on every process. May talk
        to the other processes (MPI broadcasts it), so every process must ask."""
        raise NotImplementedError(f"{cls.__name__} must implement coordinator_address")

    @classmethod
    def process_count(cls) -> int:
        raise NotImplementedError(f"{cls.__name__} must implement process_count")

    @classmethod
    def process_id(cls) -> int:
        raise NotImplementedError(f"{cls.__name__} must implement process_id")

    @classmethod
    def local_rank(cls) -> int | None:
        """This process's index among the processes of its host, where the launcher says."""
        return None

    @classmethod
    def spans_hosts(cls) -> bool | None:
        """Whether the job runs on several hosts, where the launcher says (None: unknown)."""
        return None

    @classmethod
    def job_id(cls) -> str | None:
        """What tells this job from any other, the same in every process of the job, where the
        launcher gives one (None: the job has no id). Like coordinator_address, it may talk to
        the other processes, so every process must ask, after coordinator_address."""
        return None


def environments() -> list[type[ClusterEnv]]:
    return sorted(ClusterEnv.registry, key=lambda env: env.priority)


def detect() -> type[ClusterEnv] | None:
    """The first environment (by priority) that recognises this process, or None."""
    return next((env for env in environments() if env.is_present()), None)


def by_name(name: str) -> type[ClusterEnv]:
    names = [env.name for env in environments()]
    for env in environments():
        if name == env.name or name in env.aliases:
            if not env.is_present():
                looked = f" ({', '.join(env.env_vars)} are not set)" if env.env_vars else ""
                raise RuntimeError(f"cluster_detection_method={name!r} was asked for, but this "
                                   f"process was not started by {name}{looked}")
            return env
    raise ValueError(f"unknown cluster_detection_method {name!r}; known methods: {names}")


@dataclass(frozen=True)
class JobSpec:
    """What a process needs to join a job: resolved from arguments first, then the environment."""
    coordinator_address: str
    num_processes: int
    process_id: int
    local_device_ids: tuple[int, ...] | None
    environment: str  # the ClusterEnv name that filled the gaps, or "arguments"
    job_id: str | None = None  # checked when joining: a job only joins its own coordinator


def resolve(coordinator_address: str | None, num_processes: int | None,
            process_id: int | None, local_device_ids: int | Sequence[int] | None,
            cluster_detection_method: str | None = None) -> JobSpec:
    """Explicit arguments win; the detected environment fills in the rest."""
    if isinstance(local_device_ids, int):
        local_device_ids = (local_device_ids,)
    if local_device_ids is not None:
        local_device_ids = tuple(_as_int("local_device_ids entry", i) for i in local_device_ids)
    source, env = "arguments", None
    if None in (coordinator_address, num_processes, process_id):
        env = by_name(cluster_detection_method) if cluster_detection_method else detect()
        if env is None:
            missing = [n for n, v in (("coordinator_address", coordinator_address),
                                      ("num_processes", num_processes),
                                      ("process_id", process_id)) if v is None]
            known = ", ".join(e.name for e in environments())
            raise ValueError(
                f"spmd.distributed.initialize() could not tell how this process was started "
                f"(looked for: {known}); pass {', '.join(missing)} explicitly, or start the "
                f"processes with spmd-run, mpiexec, srun or spmd's Ray launcher")
        source = env.name
        num_processes = env.process_count() if num_processes is None else num_processes
        process_id = env.process_id() if process_id is None else process_id
        if coordinator_address is None:
            coordinator_address = env.coordinator_address()
    num_processes = _as_int("num_processes", num_processes)
    process_id = _as_int("process_id", process_id)
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}) for num_processes="
                         f"{num_processes}, got {process_id}")
    split_address(coordinator_address)  # validates
    job_id = os.environ.get(JOB_ID) or (env.job_id() if env is not None else None)
    return JobSpec(coordinator_address, num_processes, process_id, local_device_ids, source,
                   job_id)


def int_variable(name: str) -> int:
    """An integer environment variable, with a clear error for anything else."""
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def _as_int(what: str, value) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None
