"""A bound on the executions in flight per device set (of pmap and of jit over a mesh), so that
a loop that never waits for its results cannot deadlock XLA's CPU collectives.

XLA's CPU runtime runs each device's part of a multi-device program on a shared thread pool,
and a collective makes the parts wait for each other at a rendezvous. When more executions are
queued than the pool can hold, the parts of the oldest cannot all get a thread and the process
aborts ("Termination timeout for all reduce ... only 6 of them arrived"; see
../shared/reference/xla-cpu-collective-deadlock.md). Before launching execution k on a device
set we therefore wait for execution k - B to finish (B = `max_inflight_executions`, env
SPMD_MAX_INFLIGHT, default 2; 0 or less turns the bound off). Waiting costs nothing measurable:
the host is far ahead of the devices in such a loop anyway.
"""
from __future__ import annotations

import collections
import threading

from spmd.transforms.config import config

_queues: dict[tuple, collections.deque] = {}
_lock = threading.Lock()


def launch(device_ids: tuple, run, limit: int | None = None):
    """`run()` -> (outputs, token), after at most B - 1 earlier executions on `device_ids` are
    still running (B = `limit`, or the configured bound); the token (which completes with the
    execution) is kept for the next call."""
    limit = int(config.max_inflight_executions) if limit is None else limit
    if limit <= 0:
        return run()[0]
    queue = _queues.get(device_ids)
    if queue is None:
        with _lock:
            queue = _queues.setdefault(device_ids, collections.deque())
    while len(queue) >= limit:
        try:
            oldest = queue.popleft()
        except IndexError:  # another thread took it
            break
        oldest.block_until_ready()
    outs, token = run()
    queue.append(token)
    return outs


def wait_all():
    """Wait for every execution launched so far (tests and benchmarks use it)."""
    for queue in list(_queues.values()):
        while queue:
            try:
                queue.popleft().block_until_ready()
            except IndexError:
                break
