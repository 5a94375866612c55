"""Ending a process that waits in an MPI call for a process that has left the job.

Over gloo, a collective whose peer has gone fails at once (its TCP connection closes). MPI
between ranks of one host moves data through shared memory and never learns that a peer has
gone: a process still inside an MPI collective when another leaves the job (it finished
early, or crashed through spmd's exit path: the processes were out of step) would wait
forever, and a peer that left cleanly stops no heartbeat. So every MPI call of pmap's
transport is timed; one still running a while after another process was seen to leave ends
this process, naming that process. A peer killed outright is the heartbeats' (and the
launcher's) to notice.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

# An MPI call this old is worth asking the coordinator about (a psum takes microseconds to
# milliseconds; asking costs a round trip, so not for every call).
SUSPECT_SECONDS = 1.0
# How long a call may go on after a peer was seen leaving: the peer may have left just after
# finishing the same collective, while this process was still copying its result out.
GRACE_SECONDS = 2.0
POLL_SECONDS = 0.25
JOIN_SECONDS = 5.0


class StallWatch:
    """`departed()`: {process: how} of the processes that have left the job; `on_stall(process,
    how)` ends this process (it does not return)."""

    def __init__(self, me: int, departed: Callable[[], dict[int, str]],
                 on_stall: Callable[[int, str], None]):
        self.me, self.departed, self.on_stall = me, departed, on_stall
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}  # call number -> when it started
        self._calls = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="spmd-mpi-stall-watch")
        self._thread.start()

    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), timed."""
        with self._lock:
            self._calls += 1
            number = self._calls
            self._running[number] = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                del self._running[number]

    def stop(self) -> None:
        """End the thread and wait for it: a daemon thread still inside a jaxlib call (the
        coordinator's key-value store) when the interpreter finalizes aborts the process."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(JOIN_SECONDS)

    def _watch(self) -> None:
        seen: dict[int, tuple[str, float]] = {}  # process -> (how it left, when first seen)
        while not self._stopped.wait(POLL_SECONDS):
            with self._lock:
                oldest = min(self._running.values(), default=None)
            now = time.monotonic()
            if oldest is None or now - oldest < SUSPECT_SECONDS:
                continue
            try:
                departed = self.departed()
            except Exception:  # noqa: BLE001  (the coordinator is gone: the heartbeats end us)
                continue
            for process, how in departed.items():
                if process != self.me:
                    seen.setdefault(process, (how, now))
            for process, (how, since) in sorted(seen.items()):
                # every collective waits for every process: one that has left never comes
                if now - max(oldest, since) >= GRACE_SECONDS:
                    self.on_stall(process, how)
                    return


class WatchedComm:
    """An mpi4py communicator whose calls `watch` times; anything else passes through."""

    def __init__(self, comm, watch: StallWatch):
        self._comm, self._watch = comm, watch

    def stop_watching(self) -> None:
        self._watch.stop()

    def Split(self, color: int, key: int = 0):  # noqa: N802  (mpi4py's name)
        """A sub-communicator (a null one outside it), its calls timed by the same watch."""
        part = self._watch.call(self._comm.Split, color, key)
        return WatchedComm(part, self._watch) if part else part

    def __getattr__(self, name):
        attribute = getattr(self._comm, name)
        if not callable(attribute):
            return attribute

        def watched(*args, **kwargs):
            return self._watch.call(attribute, *args, **kwargs)
        return watched
