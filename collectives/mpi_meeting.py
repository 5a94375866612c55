"""Where the replicas of one process meet at one collective's host callback, once per execution
(collectives/mpi_all_reduce.py writes the callbacks): the last to arrive runs the process's part
of the collective on every replica's buffers (theirs stay valid while their callbacks wait),
with one MPI call between the processes, and fills every output; then all of them return."""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np


def as_bytes(x: np.ndarray) -> np.ndarray:
    """A contiguous buffer as bytes, for the MPI calls that only move data: mpi4py reads an
    MPI type from the buffer's format, and has none for bfloat16, float16 or bool."""
    return x.reshape(-1).view(np.uint8)


class LocalMeeting:
    """`run(comm, inputs, outputs)`: the process's part, given the replicas' buffers in the
    order of their replica ids (`position` at arrival); `before(comm)`, when set, runs before it
    (the per-call order check, which must precede every other MPI call of the execution)."""

    def __init__(self, count: int, comm, run: Callable, before: Callable | None = None):
        self.count, self.comm, self.run, self.before = count, comm, run, before
        self.cond = threading.Condition()
        self.arrived: dict[int, tuple] = {}
        self.generation = 0  # executions completed
        self.error = None    # what the last one raised, for the waiting replicas to raise too

    def arrive(self, position: int, x: np.ndarray, out: np.ndarray) -> None:
        if self.count == 1:  # nothing to meet: straight away
            self._run([x], [out])
            return
        with self.cond:
            self.arrived[position] = (x, out)
            generation = self.generation
            if len(self.arrived) < self.count:
                self.cond.wait_for(lambda: self.generation != generation)
                if self.error is not None:
                    raise RuntimeError(f"the MPI collective of this process failed: "
                                       f"{self.error}")
                return
            arrived = [self.arrived[p] for p in sorted(self.arrived)]
            self.arrived = {}
        error = None
        try:
            self._run([x for x, _ in arrived], [out for _, out in arrived])
        except BaseException as e:
            error = e
        with self.cond:
            self.error = error
            self.generation += 1
            self.cond.notify_all()
        if error is not None:
            raise error

    def _run(self, inputs: list, outputs: list) -> None:
        if self.before is not None and self.comm is not None:
            self.before(self.comm)
        self.run(self.comm, inputs, outputs)
