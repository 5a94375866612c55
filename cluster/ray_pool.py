"""Ray workers for an SPMD job: one actor per process, placed through a placement group.

`run_on_ray(fn, n)` runs `fn` as process 0..n-1 of one job and returns each one's result;
inside, `spmd.distributed.initialize()` needs no arguments (the worker is a RayWorkerEnv).
`RayPool` is the shared part (start or join Ray, place the actors, find a coordinator
address on process 0's node, tear down); spmd-run --ray uses it with its own actor class.

Placement follows a placement-group strategy: PACK (as few nodes as possible, the default),
SPREAD (as many as possible), STRICT_SPREAD (one process per node; the cluster must have a node
for each) or STRICT_PACK (all on one node). The job's runtime_env (cluster/ray_runtime_env.py:
the driver's variables, a working folder) goes with the connection the pool makes.

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
from spmd.cluster.ray_runtime_env import job_runtime_env
from spmd.transforms.config import config

STRATEGIES = ("PACK", "SPREAD", "STRICT_SPREAD", "STRICT_PACK")
PLACEMENT_SECONDS = 120  # how long Ray may take to find room for the job before we give up
_AUTH_REFUSED = ("InvalidAuthToken", "Unauthenticated")  # how Ray's RPC layer says it
_TOKEN = ("RAY_AUTH_MODE=token and the cluster's token, as RAY_AUTH_TOKEN=<token> or "
          "RAY_AUTH_TOKEN_PATH=<file holding it> (by default ~/.ray/auth_token; `ray "
          "get-auth-token` where the head was started prints it)")


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
                 require_private_network: bool = True, strategy: str = "PACK",
                 runtime_env: dict | None = None, placement_seconds: float = PLACEMENT_SECONDS,
                 temp_dir: str | None = None):
        """`temp_dir`: where a local Ray instance keeps its files (a fresh folder by default);
        removed on exit either way."""
        if int(num_processes) < 1:
            raise ValueError(f"num_processes must be at least 1, got {num_processes}")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown Ray placement strategy {strategy!r}: use one of "
                             f"{', '.join(STRATEGIES)}")
        self.num_processes = int(num_processes)
        self.worker_class = worker_class
        self.address = address
        self.require_private_network = require_private_network
        self.strategy = strategy
        self.runtime_env = job_runtime_env() if runtime_env is None else runtime_env
        self.placement_seconds = placement_seconds
        self.actors: list = []
        self._placement = None
        self._started_ray = False
        self._temp_dir = temp_dir

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
            self._check_runtime_env_fits_caller_connection()
            return
        if self.address is not None:
            try:
                ray.init(address=self.address, logging_level=logging.WARNING,
                         runtime_env=self.runtime_env)
            except (ConnectionError, RuntimeError) as e:
                raise _join_error(self.address, e) from None
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
        self._temp_dir = self._temp_dir or tempfile.mkdtemp(prefix="spmd-ray-")
        ray.init(num_cpus=max(self.num_processes, os.cpu_count() or 1),
                 include_dashboard=False, _temp_dir=self._temp_dir,
                 logging_level=logging.WARNING, runtime_env=self.runtime_env)
        self._started_ray = True

    def _check_runtime_env_fits_caller_connection(self):
        # Ray uploads local folders only with the job's own connection (ray.init), never for
        # one actor; variables it takes per actor (_actor_options).
        folders = sorted(set(self.runtime_env) - {"env_vars"})
        if folders:
            raise ValueError(
                f"Ray is already connected in this process, so the pool cannot send "
                f"{', '.join(folders)} with the job: pass runtime_env={{...}} to your own "
                f"ray.init(), or leave working_dir out")

    def _actor_options(self) -> dict:
        if self._started_ray:
            return {}  # the job's runtime_env, given to ray.init, applies to every actor
        return {"runtime_env": {"env_vars": self.runtime_env.get("env_vars", {})}}

    def _place_actors(self):
        import ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
        nodes = _nodes_with_a_cpu()
        if self.strategy == "STRICT_SPREAD" and len(nodes) < self.num_processes:
            # Ray would wait for the missing nodes forever
            raise RuntimeError(
                f"one process per node (placement strategy STRICT_SPREAD) needs "
                f"{self.num_processes} nodes with a free CPU, but the Ray cluster has "
                f"{len(nodes)}: {', '.join(nodes) or 'none'}. Start more nodes, run fewer "
                f"processes, or let processes share a node (strategy SPREAD or PACK). A node "
                f"missing from this list may have been refused when it joined (its `ray start` "
                f"printed InvalidAuthToken): start it with {_TOKEN}")
        self._placement = placement_group([{"CPU": 1}] * self.num_processes,
                                          strategy=self.strategy)
        ready, _ = ray.wait([self._placement.ready()], timeout=self.placement_seconds)
        if not ready:
            raise RuntimeError(
                f"Ray could not place {self.num_processes} workers of 1 CPU each (placement "
                f"strategy {self.strategy}) within {self.placement_seconds:g} s; the cluster "
                f"has {ray.cluster_resources().get('CPU', 0):g} CPUs on {len(nodes)} node(s) "
                f"({', '.join(nodes) or 'none'}), of which "
                f"{ray.available_resources().get('CPU', 0):g} are free")
        remote_class = ray.remote(num_cpus=1)(self.worker_class)
        options = self._actor_options()
        self.actors = [remote_class.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=self._placement, placement_group_bundle_index=i), **options).remote()
            for i in range(self.num_processes)]


def _nodes_with_a_cpu() -> list[str]:
    """The addresses of the cluster's live nodes that have a CPU to give."""
    import ray
    return sorted(node["NodeManagerAddress"] for node in ray.nodes()
                  if node["Alive"] and node.get("Resources", {}).get("CPU", 0) >= 1)


def _join_error(address: str, error: BaseException) -> RuntimeError:
    """Ray's failure to connect, said plainly; its cause is only in the exception chain."""
    chain, seen = [], error
    while seen is not None:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    if any(word in text for text in chain for word in _AUTH_REFUSED):
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        return RuntimeError(
            f"the Ray cluster at {address} refused this driver's authentication "
            f"(InvalidAuthToken): it runs with token authentication, and this process "
            f"(RAY_AUTH_MODE={mode}) sent no token or a different one. Run it with {_TOKEN}; "
            f"start every worker node the same way (RAY_AUTH_MODE=token RAY_AUTH_TOKEN=<token> "
            f"ray start --address=HEAD:PORT), or the head refuses it as well")
    return RuntimeError(f"cannot join the Ray cluster at {address}: {error}")


def run_on_ray(fn, num_processes: int, args: tuple = (), *, address: str | None = None,
               cpu_devices: int = 1, require_private_network: bool = True,
               strategy: str = "PACK", working_dir: str | None = None) -> list:
    """Run `fn(*args)` as each process of an SPMD job of `num_processes` Ray workers (each
    with `cpu_devices` CPU devices); their results in process order. When one fails, the
    others are killed and the failure is raised, naming the process.

    `strategy` places the workers (STRATEGIES; "STRICT_SPREAD" is one per node). The workers
    get the driver's environment variables (cluster/ray_runtime_env.py says which), and, with
    `working_dir`, a copy of that folder as their working directory (for modules `fn` imports
    that the other nodes lack)."""
    import ray
    with RayPool(num_processes, FunctionWorker, address, require_private_network, strategy,
                 job_runtime_env(working_dir)) as pool:
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
