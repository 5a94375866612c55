"""Run one process of a job with its output lines prefixed by its rank: `[1] loss 0.25`.

`python -m launch.rank_output [--rank R] -- command...` starts the command with pipes for its
stdout and stderr, writes each line to the same stream of its own with the prefix, passes on
SIGTERM/SIGINT/SIGHUP, and ends as the command ended (same exit code, or the same signal).
Without --rank the rank comes from the launcher's variables (mpiexec sets PMI_RANK, ...), which
is how spmd-run prefixes the output of mpiexec's processes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from spmd import cluster
from spmd.launch.native_log import NativeLogCondenser
from spmd.launch.process_death import die_with_parent

_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def prefix(rank) -> bytes:
    return f"[{rank}] ".encode()


def pump(source, sink, head: bytes, condenser: NativeLogCondenser | None = None) -> None:
    """Copy `source` to `sink` line by line, each line starting with `head`; with a
    condenser, the runtime's fatal C++ log becomes one line."""
    for line in iter(source.readline, b""):
        for out in condenser.feed(line) if condenser else [line]:
            sink.write(head + (out if out.endswith(b"\n") else out + b"\n"))
        sink.flush()
    for out in condenser.close() if condenser else []:
        sink.write(head + out)
    sink.flush()
    source.close()


def run(rank, command: list[str]) -> int:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=_launcher_fds(), preexec_fn=die_with_parent)
    for sig in _FORWARDED:
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    head = prefix(rank)
    pumps = [threading.Thread(target=pump, args=(proc.stdout, sys.stdout.buffer, head)),
             threading.Thread(target=pump, args=(proc.stderr, sys.stderr.buffer, head,
                                                 NativeLogCondenser(rank)))]
    for t in pumps:
        t.start()
    code = proc.wait()
    for t in pumps:
        t.join()
    return code


def _launcher_fds() -> tuple[int, ...]:
    """The descriptors a launcher hands its processes by name (MPICH's PMI connection). Other
    inherited ones are not passed on: Hydra leaks its control socket, which listens on all
    interfaces, into every rank."""
    fd = os.environ.get("PMI_FD", "")
    return (int(fd),) if fd.isdigit() else ()


def _rank_from_environment():
    env = cluster.detect()
    if env is None:
        raise SystemExit("spmd.launch.rank_output: no --rank given and no launcher variables "
                         "(SPMD_PROCESS_ID, PMI_RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID) set")
    return env.process_id()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rank = None
    if argv[:1] == ["--rank"]:
        rank, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m spmd.launch.rank_output [--rank R] -- command [args...]")
    code = run(_rank_from_environment() if rank is None else rank, argv)
    if code < 0:  # end the same way, so our parent sees the signal too
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code  # a signal whose default is not to end the process
    return code


if __name__ == "__main__":
    sys.exit(main())
