"""A function running on a Ray worker of an spmd job (`cluster.ray_pool.run_on_ray`).

The pool's actor enters the job before calling the user's function and leaves it after, so
`spmd.distributed.initialize()` inside the function needs no arguments, as under spmd-run."""
from __future__ import annotations

from dataclasses import dataclass

from spmd.cluster.cluster_env import ClusterEnv


@dataclass(frozen=True)
class RayJob:
    coordinator: str
    num_processes: int
    process_id: int


_current: RayJob | None = None


def enter_job(job: RayJob | None) -> None:
    global _current
    _current = job


def current_job() -> RayJob | None:
    return _current


class RayWorkerEnv(ClusterEnv):
    name = "ray"
    priority = 20

    @classmethod
    def is_present(cls) -> bool:
        return _current is not None

    @classmethod
    def coordinator_address(cls) -> str:
        return _current.coordinator

    @classmethod
    def process_count(cls) -> int:
        return _current.num_processes

    @classmethod
    def process_id(cls) -> int:
        return _current.process_id
