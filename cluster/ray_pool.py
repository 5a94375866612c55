"""Ray workers for an SPMD job: one actor per process, placed through a placement group.

`run_on_ray(fn, n)` runs `fn` as process 0..n-1 of one job and returns each one's result;
inside, `spmd.distributed.initialize()` needs no arguments (the worker is a RayWorkerEnv).
`RayPool` is the shared part (start or join Ray, place the actors, find a coordinator
address on process 0's node, tear down); spmd-run --ray uses it with its own actor class.

With no address a local Ray instance is started, and only inside a private network namespace
(cluster/netns.py says why), unless `require_private_network=False`.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

from spmd.cluster import netns
from spmd.cluster.addresses import free_port, join_address
from spmd.cluster.ray_env import RayJob, enter_job
from spmd.transforms.config import config

_READY_SECONDS = 120


class PoolWorker:
    """What every actor of a pool can do: name a free address on its own node."""

    def free_address(self) -> str:
        import ray
        host = ray.util.get_node_ip_address()
        return join_address(host, free_port(host))


class FunctionWorker(PoolWorker):
    def run(self, fn, args: tuple, job: RayJob, cpu_devices: int):
        # the backend has not started in this worker, so it still takes the device count
        config.update("cpu_devices", int(cpu_devices))
        enter_job(job)
        try:
            return fn(*args)
        finally:
            enter_job(None)


class RayPool:
    """`with RayPool(n, WorkerClass) as pool:` n actors of WorkerClass, pool.actors[i] being
    process i; Ray is shut down on exit if the pool started it."""

    def __init__(self, num_processes: int, worker_class: type, address: str | None = None,
                 require_private_network: bool = True):
        if int(num_processes) < 1:
            raise ValueError(f"num_processes must be at least 1, got {num_processes}")
        self.num_processes = int(num_processes)
        self.worker_class = worker_class
        self.address = address
        self.require_private_network = require_private_network
        self.actors: list = []
        self._placement = None
        self._started_ray = False
        self._temp_dir = None

    def __enter__(self) -> RayPool:
        try:
            self._start_or_join_ray()
            self._place_actors()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        import ray
        from ray.util.placement_group import remove_placement_group
        for actor in self.actors:
            ray.kill(actor)  # its process ends, and with it anything it started
        self.actors = []
        if self._placement is not None:
            remove_placement_group(self._placement)
            self._placement = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def coordinator_address(self) -> str:
        import ray
        return ray.get(self.actors[0].free_address.remote())

    def _start_or_join_ray(self):
        import ray
        if ray.is_initialized():  # the caller's connection: keep it
            return
        if self.address is not None:
            try:
                ray.init(address=self.address, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError) as e:
                raise RuntimeError(f"cannot join the Ray cluster at {self.address}: {e} (with "
                                   f"token authentication on, set RAY_AUTH_MODE=token and give "
                                   f"the cluster's token)") from None
            self._started_ray = True  # our connection to it; the cluster stays up
            return
        if self.require_private_network and not netns.only_loopback():
            raise RuntimeError(
                "starting a local Ray instance here would listen on this machine's outside "
                f"addresses (interfaces: {', '.join(netns.interfaces())}) and probe the "
                "network. Run the driver in a private network namespace (e.g. `unshare --net "
                "sh -c 'ip link set lo up && exec python driver.py'`), pass address= of a "
                "running Ray cluster, or pass require_private_network=False to accept that")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self._temp_dir = tempfile.mkdtemp(prefix="spmd-ray-")
        ray.init(num_cpus=max(self.num_processes, os.cpu_count() or 1),
                 include_dashboard=False, _temp_dir=self._temp_dir,
                 logging_level=logging.WARNING)
        self._started_ray = True

    def _place_actors(self):
        import ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
        self._placement = placement_group([{"CPU": 1}] * self.num_processes, strategy="PACK")
        ready, _ = ray.wait([self._placement.ready()], timeout=_READY_SECONDS)
        if not ready:
            raise TimeoutError(f"Ray could not place {self.num_processes} workers of 1 CPU each "
                               f"within {_READY_SECONDS} s; the cluster has "
                               f"{ray.cluster_resources().get('CPU', 0):g} CPUs")
        remote_class = ray.remote(num_cpus=1)(self.worker_class)
        self.actors = [remote_class.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=self._placement, placement_group_bundle_index=i)).remote()
            for i in range(self.num_processes)]


def run_on_ray(fn, num_processes: int, args: tuple = (), *, address: str | None = None,
               cpu_devices: int = 1, require_private_network: bool = True) -> list:
    """Run `fn(*args)` as each process of an SPMD job of `num_processes` Ray workers (each
    with `cpu_devices` CPU devices); their results in process order. When one fails, the
    others are killed and the failure is raised, naming the process."""
    import ray
    with RayPool(num_processes, FunctionWorker, address, require_private_network) as pool:
        coordinator = pool.coordinator_address()
        refs = [actor.run.remote(fn, args, RayJob(coordinator, num_processes, i), cpu_devices)
                for i, actor in enumerate(pool.actors)]
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                ray.get(done[0])
            except ray.exceptions.RayError as e:
                process = refs.index(done[0])
                raise RuntimeError(f"process {process} of {num_processes} of the Ray job "
                                   f"failed; the others were stopped: {e}") from e
        return ray.get(refs)
