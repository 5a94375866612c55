"""spmd-run -n N [--mpi | --ray [ADDRESS]] [--cpu-devices K] script.py args...

Starts N processes of script.py that find each other through the variables of
cluster/spmd_run_env.py (or mpiexec's own), so `spmd.distributed.initialize()` in the script
needs no arguments. Every output line is prefixed with its process's rank. When one process
fails, the others are stopped and spmd-run exits with the failed one's status.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys

from spmd.cluster.addresses import LOOPBACK, free_port, join_address
from spmd.cluster.ray_pool import STRATEGIES
from spmd.cluster.spmd_run_env import job_environment
from spmd.launch import ray_launch
from spmd.launch.local_group import LocalGroup, rank_command
from spmd.launch.supervisor import supervise

USAGE = "spmd-run -n N [--mpi | --ray [ADDRESS]] [--cpu-devices K] script.py [args...]"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spmd-run", usage=USAGE, description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--num-processes", type=int, required=True, metavar="N",
                   help="how many processes to start")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--mpi", action="store_true", help="start them with mpiexec")
    how.add_argument("--ray", action="store_true",
                     help="run them as Ray actors: on a local Ray instance (in a private "
                          "network namespace), or on the cluster at ADDRESS")
    p.add_argument("--ray-address", help=argparse.SUPPRESS)
    placement = p.add_mutually_exclusive_group()
    placement.add_argument("--ray-strategy", choices=STRATEGIES, metavar="STRATEGY",
                           help="how Ray places the processes on its nodes (placement-group "
                                "strategy): PACK (as few nodes as possible, the default), "
                                "SPREAD, STRICT_SPREAD (one per node), STRICT_PACK (one node)")
    placement.add_argument("--ray-spread", dest="ray_strategy", action="store_const",
                           const="STRICT_SPREAD",
                           help="one process per Ray node (--ray-strategy STRICT_SPREAD)")
    p.add_argument("--ray-working-dir", metavar="DIR",
                   help="with --ray ADDRESS: the folder sent with the job (default: the "
                        "current one, up to 100 MiB); the processes start in its copy on every "
                        "node. 'none' sends nothing: the script must then exist at the same "
                        "path on every node")
    p.add_argument("--cpu-devices", type=int, metavar="K",
                   help="XLA CPU devices per process (sets SPMD_CPU_DEVICES)")
    p.add_argument("--grace", type=float, default=5.0, metavar="SECONDS",
                   help="after a failure, how long the others get to stop before SIGKILL "
                        "(default 5)")
    p.add_argument("script", help="the Python script every process runs")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


_TAKES_VALUE = {"-n", "--num-processes", "--cpu-devices", "--grace"}
_TAKES_VALUE |= {"--ray-strategy", "--ray-working-dir"}  # the Ray options'
_ADDRESS = re.compile(r"^(auto|ray://.+|[\w.\-\[\]:]+:\d+)$")


def _split_ray_address(argv: list[str]) -> list[str]:
    """`--ray ADDRESS script.py` vs `--ray script.py`: the word after --ray is the cluster's
    address only if it looks like one (host:port, ray://..., auto)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # spmd-run's own options
        if argv[i] == "--ray" and i + 1 < len(argv) and _ADDRESS.match(argv[i + 1]):
            return argv[:i] + ["--ray", f"--ray-address={argv[i + 1]}"] + argv[i + 2:]
        i += 2 if argv[i] in _TAKES_VALUE else 1
    return argv


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(_split_ray_address(argv))
    if args.num_processes < 1:
        parser.error(f"-n must be at least 1, got {args.num_processes}")
    if args.cpu_devices is not None and args.cpu_devices < 1:
        parser.error(f"--cpu-devices must be at least 1, got {args.cpu_devices}")
    if not os.path.isfile(args.script):
        parser.error(f"no such script: {args.script}")
    if not args.ray and (args.ray_strategy or args.ray_working_dir):
        parser.error("--ray-strategy, --ray-spread and --ray-working-dir go with --ray")
    return args


def _process_env(args) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}  # lines reach the prefixer as they are printed
    if args.cpu_devices is not None:
        env["SPMD_CPU_DEVICES"] = str(args.cpu_devices)
    return env


def run_local(args) -> int:
    n = args.num_processes
    coordinator = join_address(LOOPBACK, free_port(LOOPBACK))
    script = [sys.executable, args.script, *args.args]
    envs = [{**os.environ, **_process_env(args), **job_environment(coordinator, n, i, i)}
            for i in range(n)]
    group = LocalGroup([f"process {i}" for i in range(n)],
                       [rank_command(script, i) for i in range(n)], envs)
    return supervise(group, args.grace)


def find_mpiexec() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside_python if os.access(beside_python, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise SystemExit("spmd-run --mpi needs mpiexec: pip install mpich (its mpiexec lands "
                         "next to python), or put an MPI's mpiexec on PATH")
    return found


def run_mpi(args) -> int:
    script = [sys.executable, args.script, *args.args]
    command = [find_mpiexec(), "-n", str(args.num_processes), *rank_command(script)]
    # UCX would listen on every interface; shared memory is all that local ranks need.
    env = {**os.environ, **_process_env(args)}
    env.setdefault("UCX_TLS", "self,sm,cma")
    return supervise(LocalGroup(["mpiexec"], [command], [env]), args.grace)


def run_ray(args, argv: list[str]) -> int:
    if args.ray_address is None:
        ray_launch.ensure_private_network(argv)  # returns only inside one
    n = args.num_processes
    envs = [{**_process_env(args), **job_environment("", n, i)} for i in range(n)]
    return ray_launch.run(n, args.script, args.args, envs, args.ray_address, args.grace,
                          supervise, strategy=args.ray_strategy or "PACK",
                          working_dir=ray_launch.working_dir_for(args.ray_address,
                                                                 args.ray_working_dir))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    try:
        if args.mpi:
            return run_mpi(args)
        if args.ray:
            return run_ray(args, argv)
        return run_local(args)
    except RuntimeError as e:
        print(f"spmd-run: {e}", file=sys.stderr)
        return 1
