"""spmd-run --hosts without --mpi: the ranks of other hosts are started over ssh, as horovodrun
does; those of this machine directly.

A remote rank is `ssh [options] HOST 'cd CWD && exec env VAR=... python -m spmd.launch.ssh_launch
-- <rank command>'`. The ssh command comes from --ssh or $SPMD_SSH (default `ssh -o
BatchMode=yes`: a password prompt would hang the job). Without a terminal, sshd does not stop a
remote command when the connection closes, so the remote end of this module (`main`) tethers the
rank to its stdin: spmd-run holds that pipe open for the job's life, and when the local ssh
process dies or is stopped (or spmd-run itself dies) the connection closes, the remote stdin
ends, and the rank gets SIGTERM, then SIGKILL after a grace period. A rank that ends makes its
ssh exit with its status, which is how the supervisor learns of a remote death.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading

from spmd.cluster.addresses import HOST_ADDRESS
from spmd.launch.process_death import shell_exit_code

SSH_VARIABLE = "SPMD_SSH"
DEFAULT_SSH = "ssh -o BatchMode=yes"
# The variables of spmd-run's environment that its remote ranks get too (the rest of the local
# environment, PATH and HOME included, belongs to this machine). SPMD_HOST_ADDRESS names one
# host's own address, so it never travels.
FORWARDED_PREFIXES = ("SPMD_", "XLA_", "PYTHON", "UCX_", "OMP_", "MALLOC_")
TETHER_GRACE_SECONDS = 5.0


def ssh_command(option: str | None) -> list[str]:
    """The ssh command line: --ssh, else $SPMD_SSH, else DEFAULT_SSH."""
    text = option or os.environ.get(SSH_VARIABLE) or DEFAULT_SSH
    words = shlex.split(text)
    if not words:
        raise ValueError(f"the ssh command is empty; give --ssh (or ${SSH_VARIABLE}) a command "
                         f"such as {DEFAULT_SSH!r}")
    return words


def forwarded_environment(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items()
            if k.startswith(FORWARDED_PREFIXES) and k != HOST_ADDRESS}


def remote_command(cwd: str, env: dict[str, str], argv: list[str]) -> str:
    """The shell line ssh runs on the host: `argv` in `cwd` with `env`, tethered to stdin."""
    tethered = [sys.executable, "-m", "spmd.launch.ssh_launch", "--", *argv]
    settings = [f"{k}={v}" for k, v in sorted(env.items())]
    return (f"cd {shlex.quote(cwd)} && exec env "
            + " ".join(shlex.quote(word) for word in settings + tethered))


def over_ssh(ssh: list[str], host: str, cwd: str, env: dict[str, str],
             argv: list[str]) -> list[str]:
    return [*ssh, host, remote_command(cwd, env, argv)]


_FREE_PORT = ("import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); "
              "print(s.getsockname()[1])")


def remote_free_port(ssh: list[str], host: str, address: str, timeout: float = 60) -> int:
    """A port free at `address` on `host` now, asked over ssh (the coordinator listens there)."""
    line = " ".join(shlex.quote(w) for w in (sys.executable, "-c", _FREE_PORT, address))
    try:
        done = subprocess.run([*ssh, host, line], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`{shlex.join(ssh)} {host}` did not answer within {timeout:g} s") \
            from None
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise RuntimeError(f"cannot reach host {host} with `{shlex.join(ssh)}` (exit code "
                           f"{done.returncode}): {done.stderr.strip()[-500:]}")
    return int(done.stdout.strip())


# ----------------------------------------------------------------- the remote end
def _end_with_stdin(proc: subprocess.Popen, grace: float) -> None:
    # spmd-run never writes: this waits for the end. (os.read, not sys.stdin: a daemon thread
    # blocked in a buffered read aborts the interpreter's shutdown.)
    while os.read(0, 65536):
        pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()


def tethered_run(argv: list[str], grace: float = TETHER_GRACE_SECONDS) -> int:
    """Run `argv` until it ends or stdin ends (then stop it); its shell exit status."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    threading.Thread(target=_end_with_stdin, args=(proc, grace), daemon=True).start()
    return shell_exit_code(proc.wait())


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(tethered_run(args[1:] if args[:1] == ["--"] else args))
