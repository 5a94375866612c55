"""A collective between processes that waits too long: say who is missing, then end the job.

A process that is alive but stuck (sleeping, in an endless loop, waiting on I/O) makes every
other process wait in the next collective forever: heartbeats keep coming, and neither gloo nor
MPI times out. So, in the manner of Horovod's stall inspector, every execution of a pmap
program that spans processes is tracked, and a watchdog thread per process:
- after `warn` seconds (SPMD_COLLECTIVE_WARN, default 60, or half the timeout if that is
  shorter) of one execution, prints once which processes have not started it and what each
  last started (program name, its call count), and goes on waiting;
- after `timeout` seconds (SPMD_COLLECTIVE_TIMEOUT or initialize(collective_timeout=...),
  default 30 minutes) posts the error in the key-value store and ends its process. Every other
  process (the stuck one included) reads it within a tick, prints it and ends too.
The main thread waits inside XLA and cannot be interrupted, so "ends" is the crash path of
spmd.distributed: the error is printed, the process says it has left, and exits with status 1.

Costs: the hot path makes a record and appends it to a deque (~1 us a call, measured; a 4 KB
psum step over MPI takes 30 us and more). A waiter thread waits for the newest execution once
per tick (so it wakes about twice per tick, not once per step); the watchdog publishes this
process's last started execution when it changed (one key-value write per tick at most) and
looks for the job's error (one read per tick). Warnings and the error come within a tick
(0.5 s, or a quarter of the warning limit when that is shorter) of their limits.

What each process publishes is compared by a sequence number counting its cross-process
executions: processes that run the same pmaps in the same order (as they must, and as
spmd/pmap_call_order.py checks) have started the same execution when their numbers match.
"""
from __future__ import annotations

import collections
import json
import math
import os
import sys
import threading
import time

from spmd.transforms import backend

WARN_VARIABLE, TIMEOUT_VARIABLE = "SPMD_COLLECTIVE_WARN", "SPMD_COLLECTIVE_TIMEOUT"
DEFAULT_WARN, DEFAULT_TIMEOUT = 60.0, 30 * 60.0
_STARTED, _ERROR, _SEEN = "spmd/stall/started/", "spmd/stall/error", "spmd/stall/seen/"
_MAX_TICK = 0.5  # how often the threads look (at most): the warning's and the error's delay
_MIN_TICK = 0.05  # (a tiny warning limit must not make them spin)
_JOIN_SECONDS = 10.0  # how long leaving the job waits for the threads (an execution to end)


def limits(collective_timeout=None, environ=os.environ) -> tuple[float, float]:
    """(warn, timeout) in seconds: the argument, else the variables, else the defaults; the
    warning comes before the timeout (by default at 60 s, or halfway when that is sooner)."""
    if collective_timeout is not None:
        timeout, source = _seconds(collective_timeout, "collective_timeout"), \
            "collective_timeout"
    elif TIMEOUT_VARIABLE in environ:
        timeout, source = _seconds(environ[TIMEOUT_VARIABLE], TIMEOUT_VARIABLE), \
            TIMEOUT_VARIABLE
    else:
        timeout, source = DEFAULT_TIMEOUT, "the default timeout"
    if WARN_VARIABLE not in environ:
        return min(DEFAULT_WARN, timeout / 2), timeout
    warn = _seconds(environ[WARN_VARIABLE], WARN_VARIABLE)
    if warn >= timeout:
        raise ValueError(f"{WARN_VARIABLE}={warn:g} s must be shorter than {source}={timeout:g} "
                         f"s: the warning about a waiting collective comes before the job is "
                         f"ended; lower {WARN_VARIABLE} or raise the timeout")
    return warn, timeout


def _seconds(value, name: str) -> float:
    if isinstance(value, bool):  # a bool is an int to float(): not a duration
        value = repr(value)
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return seconds


class Record:
    """One execution across processes: what it runs, when it started, its token once
    dispatched (None while the dispatch itself still runs)."""
    __slots__ = ("seq", "name", "calls", "start", "wall", "token", "warned")

    def __init__(self, seq: int, name: str, calls: int):
        self.seq, self.name, self.calls = seq, name, calls
        self.start, self.wall = time.monotonic(), time.time()
        self.token, self.warned = None, False

    def public(self) -> str:
        return json.dumps({"seq": self.seq, "name": self.name, "calls": self.calls,
                           "wall": self.wall})


def describe(label: str, calls: int) -> str:
    return f"{label} (its call {calls})"


class _Over:
    """The token of an execution whose dispatch raised: nothing to wait for."""

    @staticmethod
    def block_until_ready() -> None:
        return None


class Watch:
    """The records of this process's executions across processes, and the two threads."""

    def __init__(self, client, process_id: int, num_processes: int, warn: float,
                 timeout: float, end, out=None):
        self.client, self.me, self.count = client, process_id, num_processes
        self.warn, self.timeout, self.end = warn, timeout, end
        self.out = out or sys.stderr
        self.tick = min(_MAX_TICK, max(_MIN_TICK, warn / 4))
        self.grace = 4 * self.tick + 1  # how long the first to end waits for the others to see
        self.records: collections.deque[Record] = collections.deque()
        self.seq = 0
        self.last: Record | None = None       # the last started, for publishing
        self.published: Record | None = None
        self.waiting_on: Record | None = None  # the execution the waiter waits for now
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []

    # ------------------------------------------------------------ the hot path
    def started(self, name: str, calls: int, kind: str = "pmap") -> Record:
        """`kind`: what runs the program (a pmap, a jit over a mesh), as messages name it."""
        self.seq += 1
        record = self.last = Record(self.seq, f"{kind} of {name}", calls)
        self.records.append(record)
        return record

    # ------------------------------------------------------------ the threads
    def start(self) -> None:
        self.threads = [threading.Thread(target=target, name=name, daemon=True)
                        for target, name in ((self._follow, "spmd-stall-waiter"),
                                             (self._watch, "spmd-stall-watchdog"))]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def join(self, seconds: float) -> None:
        """Wait for the threads to end. Needed before the interpreter finalizes: a daemon
        thread returning from a jaxlib call then (the waiter's block_until_ready, the
        watchdog's key-value calls) is made to exit inside jaxlib's C++ frames, which aborts
        the process ("FATAL: exception not rethrown", status 134) after a clean run."""
        deadline = time.monotonic() + seconds
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _follow(self) -> None:
        """Once per tick, wait for the newest execution started so far: while it waits, that
        one is pending (which is all the watchdog needs to know); once it is over, so are the
        older ones (a device runs its executions in order). One wait per tick, not one per
        execution: each wait hands the GIL back and forth with the main thread, which cost a
        4 KB psum step 15-40% when it happened at every step."""
        records = self.records
        while not self.stopped.is_set():
            batch = len(records)
            if batch:
                newest = self.waiting_on = records[batch - 1]
                while newest.token is None and not self.stopped.is_set():
                    time.sleep(self.tick)  # still dispatching (XLA may run it inline)
                try:
                    newest.token.block_until_ready()
                except Exception:  # noqa: BLE001  (a failed execution is over; its caller says why)
                    pass
                for _ in range(batch):
                    records.popleft()
                self.waiting_on = None
            self.stopped.wait(self.tick)

    def _watch(self) -> None:
        while not self.stopped.wait(self.tick):
            try:
                self.check()
            except backend.JaxRuntimeError:
                pass  # the coordinator is going away; the job ends through its heartbeats

    def check(self) -> None:
        """One tick: publish what this process last started, follow the job's error, and
        warn or end when this process's pending execution has waited too long."""
        last = self.last
        if last is not None and last is not self.published:
            self.client.key_value_set(f"{_STARTED}{self.me}", last.public(),
                                      allow_overwrite=True)
            self.published = last
        error = self._job_error()
        if error is not None:
            self._end(f"spmd: error: process {self.me} ends with the job: {error}", wait=False)
            return
        record = self.waiting_on
        if record is None:
            return
        waited = time.monotonic() - record.start
        if waited > self.timeout:
            self._time_out(record)
        elif waited > self.warn and not record.warned:
            record.warned = True
            print(f"spmd: warning: process {self.me} has waited over {self.warn:g} s for "
                  f"{describe(record.name, record.calls)} to finish; "
                  f"{self._missing(record)}. It goes on waiting, and after {self.timeout:g} s "
                  f"({TIMEOUT_VARIABLE}) the job ends", file=self.out, flush=True)

    def _missing(self, record: Record) -> str:
        """Who has not started `record`, and what each last started (from the key-value
        store), as words."""
        states = {}
        for key, value in self.client.key_value_dir_get(_STARTED):
            states[int(key.rsplit("/", 1)[1])] = json.loads(value)
        missing = [p for p in range(self.count)
                   if p != self.me and states.get(p, {"seq": 0})["seq"] < record.seq]
        if not missing:
            return ("every process has started it, so it waits inside a collective (a process "
                    "may be stuck in a host callback, or the network between them)")
        now = time.time()
        seen = "; ".join(f"process {p} last started "
                         f"{describe(states[p]['name'], states[p]['calls'])} "
                         f"{max(0.0, now - states[p]['wall']):.0f} s ago" if p in states
                         else f"process {p} has started no pmap across processes"
                         for p in missing)
        return f"processes {missing} have not started it ({seen})"

    def _time_out(self, record: Record) -> None:
        error = (f"a collective between processes timed out: process {self.me} waited over "
                 f"{self.timeout:g} s for {describe(record.name, record.calls)}; "
                 f"{self._missing(record)}. "
                 f"Every process of the job ends ({TIMEOUT_VARIABLE} or "
                 f"initialize(collective_timeout=...) is {self.timeout:g} s)")
        try:
            self.client.key_value_set(_ERROR, error)
        except backend.JaxRuntimeError:
            pass  # another process posted its own first: this one's is printed all the same
        self._end(f"spmd: error: {error}", wait=True)

    def _job_error(self) -> str | None:
        try:
            return self.client.key_value_try_get(_ERROR)
        except backend.JaxRuntimeError:  # NOT_FOUND: no error
            return None

    def _end(self, message: str, wait: bool) -> None:
        _ending.set()
        self.stop()
        print(message, file=self.out, flush=True)
        try:
            self.client.key_value_set(f"{_SEEN}{self.me}", "1", allow_overwrite=True)
            if wait:  # the others read the error from the coordinator process 0 serves
                deadline = time.monotonic() + self.grace
                while time.monotonic() < deadline and \
                        len(self.client.key_value_dir_get(_SEEN)) < self.count:
                    time.sleep(0.05)
        except backend.JaxRuntimeError:
            pass
        self.end()


_active: list[Watch | None] = [None]
_ending = threading.Event()  # a watch is ending this process (its message is printed)


def ending() -> bool:
    """Whether the watch is ending this process: the main thread's own error (its collective
    failing as the other processes go) is then noise, and the process ends in a moment."""
    return _ending.is_set()


def wait_for_end(seconds: float = 10.0) -> None:
    """Let the watch end the process (called where an error would otherwise be printed)."""
    time.sleep(seconds)


def start(client, process_id: int, num_processes: int, warn: float, timeout: float,
          end) -> Watch:
    """Watch this process's executions across processes (spmd.distributed.initialize)."""
    stop()
    watch = _active[0] = Watch(client, process_id, num_processes, warn, timeout, end)
    watch.start()
    return watch


def stop() -> None:
    """Stop the watch and wait (a few ticks at most, unless the last execution is still
    running) for its threads to end."""
    watch, _active[0] = _active[0], None
    if watch is not None:
        watch.stop()
        watch.join(_JOIN_SECONDS)


class Tracked:
    """One program spanning processes (`kind`: "pmap", or "jit" over a mesh): `run(execute,
    bufs)` runs `execute(bufs) -> (outputs, token)` as a tracked execution."""
    __slots__ = ("name", "calls", "kind")

    def __init__(self, name: str, kind: str = "pmap"):
        self.name, self.calls, self.kind = name, 0, kind

    def run(self, execute, bufs):
        self.calls += 1
        watch = _active[0]
        if watch is None:
            return execute(bufs)
        record = watch.started(self.name, self.calls, self.kind)  # before: the dispatch may block
        try:
            outs, token = execute(bufs)
        except BaseException:
            record.token = _Over
            raise
        record.token = token
        return outs, token
