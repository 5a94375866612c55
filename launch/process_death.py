"""How a started process ends when its starter ends, and how an exit status reads."""
from __future__ import annotations

import ctypes
import signal
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For Popen's preexec_fn: the child gets SIGKILL when the process that started it dies,
    so a launcher killed with SIGKILL leaves no orphans. Linux ties this to the starting
    thread, so it is only armed when the starter is the main thread (which outlives the job)."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's SIGTERM/SIGKILL remain
        pass


def describe_exit(code: int) -> str:
    """'exited with code 3' / 'was killed by signal SIGKILL'."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"
    return f"exited with code {code}"


def shell_exit_code(code: int) -> int:
    """The status a shell reports for `code`: 128 + N for death by signal N."""
    return 128 - code if code < 0 else code
