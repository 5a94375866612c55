"""spmd-run -n N [--mpi | --ray [ADDRESS]] [--hosts H1[:N],H2 | --hostfile FILE] [--ssh CMD]
[--cpu-devices K] script.py args...

Starts N processes of script.py that find each other through the variables of
cluster/spmd_run_env.py (or mpiexec's own), so `spmd.distributed.initialize()` in the script
needs no arguments. Every output line is prefixed with its process's rank. When one process
fails, the others are stopped and spmd-run exits with the failed one's status.

Across hosts: --hosts a,b:2 or --hostfile FILE (one host a line: `host`, `host:N` or
`host slots=N`; # comments) lists the hosts and their slots (1 when not given); ranks fill the
first host's slots, then the next host's; -n may not exceed the slots. Without --mpi, the ranks
of this machine start directly and the others over ssh (`ssh HOST 'cd CWD && env ... python
...'`: the same python, script and working directory must exist there), with the coordinator
on the first host's address; --ssh "ssh -p 2222 -i KEY" (or $SPMD_SSH) sets the ssh command.
With --mpi the hosts go to mpiexec (Hydra: -hosts a:N,b:M, its ssh launcher, or --ssh's
command as its launcher), and UCX may use TCP between hosts (UCX_TLS=self,sm,cma,tcp; shared
memory only, self,sm,cma, when every rank is on one host; a UCX_TLS of your own wins).

On a Ray cluster (--ray ADDRESS): --ray-spread puts one process on each node (placement-group
strategy STRICT_SPREAD; --ray-strategy names another), and the current folder (or
--ray-working-dir DIR, or none) travels with the job together with the driver's environment
(Ray's runtime_env), so the script need not exist on the other nodes.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys

from spmd.cluster.addresses import LOOPBACK, free_port, join_address, route_source_address
from spmd.cluster.ray_pool import STRATEGIES
from spmd.cluster.spmd_run_env import job_environment
from spmd.launch import hosts, mpi_hosts, ray_launch, ssh_launch
from spmd.launch.local_group import LocalGroup, rank_command
from spmd.launch.mpi_segments import MpiGroup
from spmd.launch.supervisor import supervise

USAGE = ("spmd-run -n N [--mpi | --ray [ADDRESS] [--ray-spread | --ray-strategy S] "
         "[--ray-working-dir DIR]] [--hosts H1[:N],H2 | --hostfile FILE] [--ssh CMD] "
         "[--cpu-devices K] script.py [args...]")


def _parser() -> argparse.ArgumentParser:
    description = "\n\n".join(__doc__.split("\n\n")[1:])  # all but the usage line
    p = argparse.ArgumentParser(prog="spmd-run", usage=USAGE, description=description,
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
    where = p.add_mutually_exclusive_group()  # across hosts (launch/hosts.py)
    where.add_argument("--hosts", metavar="H1[:N],H2",
                       help="the hosts to run on, with their slots (processes) after a colon "
                            "(default 1); ranks fill each host's slots in turn")
    where.add_argument("--hostfile", metavar="FILE",
                       help="the hosts, one a line: 'host', 'host:N' or 'host slots=N'")
    p.add_argument("--ssh", metavar="CMD",
                   help=f"the ssh command (with options) that starts the other hosts' "
                        f"processes (default ${ssh_launch.SSH_VARIABLE}, else "
                        f"'{ssh_launch.DEFAULT_SSH}')")
    p.add_argument("script", help="the Python script every process runs")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


_TAKES_VALUE = {"-n", "--num-processes", "--cpu-devices", "--grace", "--hosts", "--hostfile",
                "--ssh", "--ray-strategy", "--ray-working-dir"}
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
    if not math.isfinite(args.grace) or args.grace < 0:  # nan would never send SIGKILL
        parser.error(f"--grace must be a number of seconds, 0 or more, got {args.grace}")
    if not os.path.isfile(args.script):
        parser.error(f"no such script: {args.script}")
    if not args.ray and (args.ray_strategy or args.ray_working_dir):
        parser.error("--ray-strategy, --ray-spread and --ray-working-dir go with --ray")
    _parse_hosts(parser, args)
    return args


def _parse_hosts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """args.host_list (None without --hosts/--hostfile) and args.placement (a host per rank)."""
    args.host_list = args.placement = None
    if args.hosts is None and args.hostfile is None:
        if args.ssh is not None:
            parser.error("--ssh starts the processes of other hosts: give them with --hosts or "
                         "--hostfile")
        return
    option = "--hosts" if args.hosts is not None else "--hostfile"
    if args.ray:
        parser.error(f"{option} does not apply to --ray: the Ray cluster places the processes "
                     f"on its nodes; run without {option}, or use --mpi or ssh ({option} alone)")
    try:
        args.host_list = (hosts.parse_host_list(args.hosts) if args.hosts is not None
                          else hosts.read_hostfile(args.hostfile))
        args.placement = hosts.layout(args.host_list, args.num_processes)
        ssh_launch.ssh_command(args.ssh)
    except ValueError as e:
        parser.error(str(e))


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


def run_hosts(args) -> int:
    """Ranks of this machine directly, the others over ssh (launch/ssh_launch.py)."""
    n, placement = args.num_processes, args.placement
    ssh = ssh_launch.ssh_command(args.ssh)
    here = {h: hosts.is_this_machine(h) for h in dict.fromkeys(placement)}
    first, others = placement[0], [h for h in here if h != placement[0]]
    host = hosts.coordinator_host(first, bool(others),
                                  lambda: route_source_address(hosts.resolve(others[0]), 22))
    port = free_port(host) if here[first] else ssh_launch.remote_free_port(ssh, first, host)
    coordinator = join_address(host, port)
    script = [sys.executable, os.path.abspath(args.script), *args.args]
    labels, commands, envs, tethered = [], [], [], []
    for i, name in enumerate(placement):
        job = {**_process_env(args),
               **job_environment(coordinator, n, i, placement[:i].count(name))}
        command = rank_command(script, i)
        labels.append(f"process {i} on {name}")
        if here[name]:
            commands.append(command)
            envs.append({**os.environ, **job})
        else:
            remote_env = {**ssh_launch.forwarded_environment(os.environ), **job}
            commands.append(ssh_launch.over_ssh(ssh, name, os.getcwd(), remote_env, command))
            envs.append(dict(os.environ))
        tethered.append(not here[name])
    return supervise(LocalGroup(labels, commands, envs, tethered), args.grace)


def find_mpiexec() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside_python if os.access(beside_python, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise SystemExit("spmd-run --mpi needs mpiexec: pip install mpich (its mpiexec lands "
                         "next to python), or put an MPI's mpiexec on PATH")
    return found


def run_mpi(args) -> int:
    script = [sys.executable, args.script, *args.args]
    with mpi_hosts.hydra_options(args.host_list, args.ssh) as options:
        command = [find_mpiexec(), "-n", str(args.num_processes), *options,
                   *rank_command(script)]
        # MPICH's ch4:ucx netmod: UCX would listen on every interface; shared memory is all
        # that ranks of one host need, TCP what ranks of several hosts need besides.
        env = {**os.environ, **_process_env(args)}
        env.setdefault("UCX_TLS", mpi_hosts.ucx_transports(args.placement))
        group = MpiGroup(command, env)
        try:
            return supervise(group, args.grace)
        finally:
            group.remove_leftovers()


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
        if args.placement is not None:
            return run_hosts(args)
        return run_local(args)
    except (RuntimeError, hosts.HostError) as e:
        print(f"spmd-run: {e}", file=sys.stderr)
        return 1
