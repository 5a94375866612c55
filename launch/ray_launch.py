"""spmd-run --ray: each process of the job is a script run by one Ray actor.

The actors come from cluster.ray_pool (one per process, through a placement group whose
strategy --ray-strategy / --ray-spread choose); each runs the script with its own node's Python
under the rank-prefixing wrapper with the spmd-run variables, and the driver collects their
output lines and exit codes in one batched call per poll. A local Ray instance (no ADDRESS) runs
in a private network namespace: spmd-run re-executes itself inside one.

On a cluster (ADDRESS) the job carries the driver's environment variables and, by default, its
current folder (cluster/ray_runtime_env.py): the processes start in the unpacked copy, so a
script inside that folder is named relative to it and need not exist on the other nodes.
"""
from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading

from spmd.cluster import netns
from spmd.cluster.ray_pool import PoolWorker, RayPool
from spmd.cluster.ray_runtime_env import job_runtime_env
from spmd.cluster.spmd_run_env import COORDINATOR
from spmd.launch import ray_watchdog
from spmd.launch.local_group import rank_command
from spmd.launch.process_death import die_with_parent

_IN_PRIVATE_NETWORK = "SPMD_RUN_PRIVATE_NETWORK"  # set by the re-executed spmd-run
_ACTOR_LOST = 255  # exit code reported for a process whose Ray actor died
# Ray retries an address where nothing answers for about two minutes; a head that is there
# accepts a connection at once.
PROBE_SECONDS = 10
# Held until this process exits: closing a watchdog's pipe is what sets it off.
_WATCHDOGS: list[subprocess.Popen] = []


class ScriptActor(PoolWorker):
    """Runs one process of the job and buffers its output until the driver polls."""

    def start(self, script_argv: list[str], rank: int, env: dict[str, str],
              cwd: str | None) -> None:
        """Run `python script_argv` as process `rank`, in `cwd` if this node has it (else in
        the actor's own folder: the unpacked working_dir, when the job sent one)."""
        self.lines: queue.Queue = queue.Queue()
        # this node's Python (the driver's may live elsewhere on another machine)
        command = rank_command([sys.executable, *script_argv], rank)
        self.proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True,
                                     preexec_fn=die_with_parent,
                                     cwd=cwd if cwd and os.path.isdir(cwd) else None)
        self.readers = [threading.Thread(target=self._read, args=(self.proc.stdout, 1)),
                        threading.Thread(target=self._read, args=(self.proc.stderr, 2))]
        for t in self.readers:
            t.start()

    def _read(self, stream, fd: int) -> None:
        for line in iter(stream.readline, b""):
            self.lines.put((fd, line))

    def poll(self) -> tuple[list, int | None]:
        """(output lines so far as (1 or 2, bytes), exit code once ended and drained)."""
        ended = self.proc.poll() is not None and not any(t.is_alive() for t in self.readers)
        out = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return out, (self.proc.returncode if ended else None)

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class RayGroup:
    def __init__(self, actors: list, labels: list[str]):
        self.actors, self.labels = actors, labels
        self.codes: dict[int, int] = {}

    def poll(self) -> dict[int, int]:
        import ray
        live = [i for i in range(len(self.actors)) if i not in self.codes]
        for i, ref in zip(live, [self.actors[i].poll.remote() for i in live]):
            try:
                lines, code = ray.get(ref)
            except ray.exceptions.RayError as e:
                print(f"spmd-run: the Ray actor of {self.labels[i]} died: {e}", file=sys.stderr)
                lines, code = [], _ACTOR_LOST
            for fd, line in lines:
                sink = sys.stdout.buffer if fd == 1 else sys.stderr.buffer
                sink.write(line)
                sink.flush()
            if code is not None:
                self.codes[i] = code
        return dict(self.codes)

    def signal(self, sig: int, members: list[int]) -> None:
        import ray
        refs = [self.actors[i].signal.remote(int(sig)) for i in members]
        ray.wait(refs, num_returns=len(refs), timeout=10)


def ensure_private_network(argv: list[str]) -> None:
    """Re-execute this spmd-run in a private network namespace unless it already runs in one."""
    if netns.only_loopback():
        return
    if os.environ.get(_IN_PRIVATE_NETWORK):
        raise RuntimeError("spmd-run --ray: re-executed in a private network namespace, but "
                           f"it still has interfaces {netns.interfaces()}")
    problem = netns.unshare_problem()
    if problem is not None:
        raise RuntimeError(
            "spmd-run --ray starts a local Ray instance inside a private network namespace "
            "(otherwise Ray listens on this machine's outside addresses and probes the "
            f"network), but `unshare --net` is not permitted here: {problem}. Run as root, or "
            "give the address of a running Ray cluster: spmd-run --ray ADDRESS ...")
    # the pid (kept by exec) marks the driver that owns the namespace, not its descendants
    os.environ[_IN_PRIVATE_NETWORK] = str(os.getpid())
    command = netns.private_network_command([sys.executable, "-m", "spmd.launch", *argv])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


def check_cluster_address(address: str) -> None:
    """Fail at once (unresolvable name, refused port) or within PROBE_SECONDS (nothing
    answers) when `address` has no Ray head, naming it; 'auto' is left to Ray."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    what = f"--ray {address}: no Ray cluster there"
    try:
        family, kind, proto, _, where = socket.getaddrinfo(host, int(port),
                                                           type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, ValueError) as e:
        raise RuntimeError(f"{what}: cannot resolve host {host!r} ({e}). Check the address "
                           f"(HEAD:PORT, as `ray start --head` printed it)") from None
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.settimeout(PROBE_SECONDS)
            probe.connect(where)
    except OSError as e:
        reason = (f"nothing answered within {PROBE_SECONDS} s" if isinstance(e, TimeoutError)
                  else e.strerror or str(e))
        raise RuntimeError(f"{what}: connecting to {where[0]} port {where[1]} failed "
                           f"({reason}). Check the address (HEAD:PORT, as `ray start --head` "
                           f"printed it) and that the head is running") from None


def working_dir_for(address: str | None, requested: str | None) -> str | None:
    """The folder to send with the job: none for a local Ray (the actors share this machine's
    files), else `requested` ("none": nothing), by default the current folder."""
    if address is None or requested == "none":
        return None
    return os.path.abspath(requested or os.curdir)


def script_on_node(script: str, working_dir: str | None) -> str:
    """How the actors name the script: relative to the working folder sent with the job when it
    lies inside, else by its absolute path (which must then exist on every node)."""
    script = os.path.abspath(script)
    if working_dir is not None and script.startswith(os.path.join(working_dir, "")):
        return os.path.relpath(script, working_dir)
    return script


def run(num_processes: int, script: str, script_args: list[str], envs: list[dict],
        address: str | None, grace: float, supervise, strategy: str = "PACK",
        working_dir: str | None = None) -> int:
    """Start the job on Ray and supervise it; `envs[i]` lacks the coordinator, which is only
    known once process 0's actor exists."""
    if address is not None:
        check_cluster_address(address)  # before importing ray, which alone takes seconds
    import ray  # noqa: E402  (lazy: only --ray needs it, and it is slow to import)
    argv = [script_on_node(script, working_dir), *script_args]
    # with a working folder, the actors already start in its copy
    cwd = None if working_dir is not None else os.getcwd()
    try:
        runtime_env = job_runtime_env(working_dir)
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    temp_dir = None
    if address is None and os.environ.get(_IN_PRIVATE_NETWORK) == str(os.getpid()):
        temp_dir = tempfile.mkdtemp(prefix="spmd-ray-")
        _WATCHDOGS.append(ray_watchdog.start(temp_dir))
    with RayPool(num_processes, ScriptActor, address, strategy=strategy,
                 runtime_env=runtime_env, temp_dir=temp_dir) as pool:
        coordinator = pool.coordinator_address()
        ray.get([actor.start.remote(argv, i, {**env, COORDINATOR: coordinator}, cwd)
                 for i, (actor, env) in enumerate(zip(pool.actors, envs))])
        return supervise(RayGroup(pool.actors, [f"process {i}" for i in range(num_processes)]),
                         grace)
