"""Ends a local Ray instance's job when its driver (spmd-run --ray) ends, however it ends.

Killed with SIGKILL, the driver runs no cleanup: its ranks would train on for seconds, Ray's
agents (ray::DashboardAgent, ray::RuntimeEnvAgent) could stay orphaned, and Ray's temp folder
would stay for good. So before starting Ray the driver starts this watchdog in a session of
its own, tied to it by a pipe it never writes: when the pipe ends (the driver has ended), the
watchdog stops every other process of the driver's private network namespace (the ranks, Ray's
processes, anything they started; the namespace was made for this one job by
cluster/netns.py), SIGKILLs what is left after STOP_SECONDS, and removes the temp folder.
After a clean end it finds nothing but leftovers to remove.

`python -m spmd.launch.ray_watchdog TEMP_DIR`, stdin the pipe.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

STOP_SECONDS = 2.0  # SIGTERM, then SIGKILL: the ranks must be gone within 5 s of the driver


def start(temp_dir: str) -> subprocess.Popen:
    """The watchdog of this driver; keep the returned object (its stdin is the tie) until the
    driver exits. Only for a driver alone in its network namespace."""
    return subprocess.Popen([sys.executable, "-m", "spmd.launch.ray_watchdog", temp_dir],
                            stdin=subprocess.PIPE, start_new_session=True)


def namespace_processes(spare: int) -> list[int]:
    """The processes of this process's network namespace, but for itself and `spare`."""
    mine, keep = os.readlink("/proc/self/ns/net"), {os.getpid(), spare}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(pid) not in keep and os.readlink(f"/proc/{pid}/ns/net") == mine:
                found.append(int(pid))
        except OSError:  # ended meanwhile, or another user's
            continue
    return found


def stop_namespace(driver: int) -> None:
    """Stop all but the driver (which, after a clean end, may still be exiting)."""
    _signal_all(namespace_processes(driver), signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while namespace_processes(driver) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_all(namespace_processes(driver), signal.SIGKILL)


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    (temp_dir,) = argv
    driver = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the driver's to handle
    sys.stdin.buffer.read()  # returns when the driver has ended (or is ending)
    stop_namespace(driver)
    shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
