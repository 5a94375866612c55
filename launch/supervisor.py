"""Watch the processes of a job; when one fails, stop the others. Never a silent hang.

A group (local processes, mpiexec, Ray actors) says which members have ended and with what
code, and can signal the ones still running. The first member to fail is reported, the
others get SIGTERM and, after a grace period, SIGKILL; spmd-run then exits with the failed
member's status. SIGINT/SIGTERM/SIGHUP to spmd-run stop the job the same way.

"First" needs care: a process that calls sys.exit(3) closes its gloo connections while its
interpreter tears down, and a peer waiting in a collective fails at once with the generic
status 1 ("another process probably died"), often a few milliseconds before the first one's
exit is seen. So failures seen within SETTLE_SECONDS of the first are weighed together, and a
specific status (a code other than 1, or a signal) wins over status 1, the peers' echo.
"""
from __future__ import annotations

import signal
import sys
import time
from typing import Protocol

from spmd.launch.process_death import describe_exit, shell_exit_code

POLL_SECONDS = 0.05
SETTLE_SECONDS = 1.0  # failures this close together are one event; see the module docstring
_ECHO = 1  # the status of a Python process that failed with an uncaught exception


class Group(Protocol):
    labels: list[str]  # one per member: "process 1", "mpiexec"

    def poll(self) -> dict[int, int]:
        """Exit codes of the members that have ended so far (member index -> code)."""

    def signal(self, sig: int, members: list[int]) -> None:
        """Send `sig` to these members (and what they started)."""


def supervise(group: Group, grace: float, log=None) -> int:
    """Run until every member has ended; the job's exit status."""
    log = log or (lambda msg: print(f"spmd-run: {msg}", file=sys.stderr, flush=True))
    interrupted: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _f: interrupted.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return _watch(group, grace, log, interrupted)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _watch(group: Group, grace: float, log, interrupted: list[int]) -> int:
    count = len(group.labels)
    status = None  # the job's exit status, once decided by a failure or an interrupt
    failed: list[int] = []  # members that failed, in the order their end was seen
    settle_until = None
    kill_at = None
    ended: dict[int, int] = {}
    while True:
        for member, code in group.poll().items():
            if member in ended:
                continue
            ended[member] = code
            if code != 0 and status is None:
                failed.append(member)
                settle_until = settle_until or time.monotonic() + SETTLE_SECONDS
        running = [m for m in range(count) if m not in ended]
        if failed and status is None and (not running or time.monotonic() >= settle_until):
            first = _first_failure(failed, ended)
            status = shell_exit_code(ended[first])
            others = [m for m in failed if m != first]
            log(f"{group.labels[first]} {describe_exit(ended[first])}"
                + "".join(f"; then {group.labels[m]} {describe_exit(ended[m])}" for m in others)
                + (f"; stopping the other {len(running)} process(es)" if running else ""))
        if interrupted and status is None:
            status = 128 + interrupted[0]
            log(f"received {signal.Signals(interrupted[0]).name}; stopping the job")
        if not running:
            return status or 0
        if status is not None:
            if kill_at is None:
                group.signal(signal.SIGTERM, running)
                kill_at = time.monotonic() + grace
            elif time.monotonic() >= kill_at:
                log(f"{', '.join(group.labels[m] for m in running)} still running after "
                    f"{grace:g} s; sending SIGKILL")
                group.signal(signal.SIGKILL, running)
                kill_at = float("inf")
        time.sleep(POLL_SECONDS)


def _first_failure(failed: list[int], codes: dict[int, int]) -> int:
    """The member whose failure the others' followed: the first seen with a specific status,
    else the first seen."""
    return next((m for m in failed if codes[m] != _ECHO), failed[0])
