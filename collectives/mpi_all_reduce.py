"""psum, pmean, pmax and pmin between processes over MPI, from inside the compiled pmap program
(and, in jobs without MPI, reduced within each process before gloo: `gloo_after_local`).

When the processes of a job are the ranks of an MPI communicator (started by mpirun/mpiexec),
an all-reduce over a pmap axis that spans processes is not lowered to an XLA all_reduce (which
runs over gloo's TCP, even between the devices of one process) but to a host callback that
every replica calls: jaxlib's zero-copy `xla_buffer_python_cpu_callback`, which hands Python
XLA's own input and output buffers. The replicas of a process meet there; the last to arrive
reduces all of their inputs into its output with NumPy, runs MPI Allreduce in place on it
between the processes, and copies the result into the others' outputs. Measured here: 16 MiB
between 2 processes in 0.93 to 1.07 of raw MPI's time, against gloo's 0.5 to 0.6 of its
bandwidth; a 4 KB psum in 0.16 ms against gloo's 2.9 ms (benchmarks/RESULTS.md, issue 6).

MPI needs every process to call its collectives in the same order. Three things give that:
- each callback takes the previous one's result as an extra operand (which it ignores), so XLA
  (which may run independent ops concurrently) runs them in program order;
- only collectives in the program's top-level block use MPI: one inside a loop body or a
  branch (run 0 or many times) stays an XLA all_reduce;
- pmap runs a program that calls MPI only after the previous one has finished, so two
  executions never interleave their MPI calls (spmd/pmap_program.py).
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from spmd.collectives.psum import write_all_reduce
from spmd.transforms import callbacks
from spmd.transforms.core import ShapedArray

# The dtypes MPI reduces natively (mpi4py maps them from the buffer's format). Others
# (float16, bfloat16, bool) stay on XLA's all_reduce.
_MPI_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                                     np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                                     np.complex64, np.complex128)}
_REPLICA_ID = ShapedArray((), np.uint32)
_COMBINE = {"sum": np.add, "max": np.maximum, "min": np.minimum}  # within a process


def gloo_after_local(groups: Sequence[Sequence[int]], mine: Sequence[int]) -> "CallbackAllReduce":
    """The transport of a job not started by mpirun, whose processes have several devices: with
    a distributed client, XLA's CPU runtime runs every all_reduce over gloo, even between the
    devices of one process, and its cost grows with the participants (a 4 KB psum over 2 x 4
    devices: 20.6 ms over all 8, 6.7 ms this way; benchmarks/RESULTS.md, issue 6). So the
    callback reduces within the process, and an XLA all_reduce follows between the processes
    only, one group per local device index. `mine`: the groups that live in this process."""
    return CallbackAllReduce(groups, dict.fromkeys(mine), {})


class CallbackAllReduce:
    """The cross-process transport of one pmap program: each all-reduce is a host callback that
    reduces within the process, then between the processes over MPI, or (with no communicator)
    hands that step to an XLA all_reduce.

    `groups`: the replicas of each process (global replica ids, one list per process, all of
    one size). `comms`: for each group that lives in this process, the communicator it reduces
    over (in a real job: this process's group -> MPI.COMM_WORLD), or None: then the callback
    only reduces within the process, and an XLA all_reduce between the processes follows, in
    groups of one replica per process (see `gloo_after_local`). `ops`: the communicator's
    reduction op for "sum", "max" and "min"; `in_place`: its in-place marker (MPI.IN_PLACE)."""

    def __init__(self, groups: Sequence[Sequence[int]], comms: dict, ops: dict, in_place=None):
        self.groups = [list(g) for g in groups]
        if len({len(g) for g in self.groups}) != 1:
            raise ValueError(f"MPI all-reduce needs the same number of devices in every "
                             f"process, got groups {self.groups}")
        self.group_of = {r: i for i, g in enumerate(self.groups) for r in g}
        self.comms, self.ops, self.in_place = dict(comms), dict(ops), in_place
        # `check_order(comm)`, when set, runs before the MPI call of the program's first
        # all-reduce (the per-call order check, spmd/pmap_call_order.py): first in the chain,
        # it precedes every other MPI call of the execution
        self.check_order: Callable | None = None

    @property
    def between_processes(self) -> str:
        """"mpi", or "gloo" (XLA's all_reduce) when there is no communicator."""
        return "gloo" if all(c is None for c in self.comms.values()) else "mpi"

    def handles(self, ctx, kind: str, axis_index_groups) -> bool:
        """Whether this all-reduce goes over MPI: over the whole axis (no sub-groups), in the
        top-level block, of a dtype MPI reduces."""
        dtype = np.dtype(ctx.in_avals[0].dtype)
        return (axis_index_groups is None and not ctx.nested and dtype in _MPI_DTYPES
                and not (kind != "sum" and dtype.kind == "c"))

    def lower(self, ctx, x: str, kind: str, then: Callable | None = None) -> str:
        """The all-reduce of `x`; `then(x, out)`, when given, runs in every replica on the reduced
        value before the callback returns (the call-order check raises there)."""
        aval = ctx.in_avals[0]
        replica = ctx.op("stablehlo.replica_id", [], out_avals=[_REPLICA_ID], operand_avals=[])
        operands, operand_avals = [x, replica], [aval, _REPLICA_ID]
        module = ctx.module
        if module.ordered_token is not None:  # the previous call's result: called after it
            operands.append(module.ordered_token[0])
            operand_avals.append(module.ordered_token[1])
        # the reduction, visible in the text that processes compare before a first run
        # (spmd/pmap_agreement.py): a psum and a pmax must not pass as equal
        before = self.check_order if module.ordered_token is None else None
        out = write_host_callback(ctx, self._callback(kind, then, before), operands,
                                  operand_avals, aval,
                                  f'spmd_mpi_all_reduce = "{kind}"')
        module.ordered_token = (out, aval)
        if self.between_processes == "gloo":  # between processes: XLA's all_reduce
            out = write_all_reduce(ctx, out, kind, self.across())
        return out

    def across(self) -> list[list[int]]:
        """Replica groups of one replica per process (one group per local device index)."""
        return [[g[j] for g in self.groups] for j in range(len(self.groups[0]))]

    def _callback(self, kind: str, then: Callable | None, before: Callable | None) -> Callable:
        """The host callback of one all-reduce site: (ctx, x, replica id, [previous], out)."""
        meetings = {g: _LocalMeeting(len(self.groups[g]), self.comms[g], _COMBINE[kind],
                                     self.ops.get(kind), self.in_place, before)
                    for g in self.comms}
        group_of = self.group_of

        def all_reduce(_ctx, x, replica, *rest):
            meeting = meetings[group_of[int(np.asarray(replica))]]
            x, out = np.asarray(x), np.asarray(rest[-1])
            meeting.reduce(x, out)
            if then is not None:
                then(x, out)
            return ()
        return all_reduce


def write_host_callback(ctx, fn: Callable, operands, operand_avals, out_aval,
                        attribute: str) -> str:
    """A zero-copy host callback `fn(ctx, *inputs, out)` with one result (see
    transforms/callbacks.py); `attribute` (`name = "value"`) marks it in the program text."""
    return callbacks.write_host_callback(ctx, fn, operands, operand_avals, [out_aval], attribute)


class _LocalMeeting:
    """Where the replicas of one process meet at one all-reduce site, once per execution: the
    last to arrive reduces every input (their buffers stay valid while their callbacks wait),
    calls MPI, and fills every output; then all of them return."""

    def __init__(self, count: int, comm, combine, op, in_place, before=None):
        self.count, self.comm, self.combine, self.op = count, comm, combine, op
        self.in_place, self.before = in_place, before  # before(comm): before the MPI call
        self.cond = threading.Condition()
        self.inputs, self.outputs = [], []
        self.generation = 0  # executions completed
        self.error = None    # what the last one raised, for the waiting replicas to raise too

    def reduce(self, x: np.ndarray, out: np.ndarray) -> None:
        if self.count == 1 and self.comm is not None:  # nothing to meet: MPI straight away
            if self.before is not None:
                self.before(self.comm)
            self.comm.Allreduce(x, out, op=self.op)
            return
        with self.cond:
            self.inputs.append(x)
            self.outputs.append(out)
            generation = self.generation
            if len(self.inputs) < self.count:
                self.cond.wait_for(lambda: self.generation != generation)
                if self.error is not None:
                    raise RuntimeError(f"the MPI all-reduce of this process failed: "
                                       f"{self.error}")
                return
            inputs, outputs = self.inputs, self.outputs
            self.inputs, self.outputs = [], []
        error = None
        try:
            if self.before is not None and self.comm is not None:
                self.before(self.comm)
            np.copyto(out, inputs[0])
            for other in inputs[1:]:
                self.combine(out, other, out=out)
            if self.comm is not None:
                self.comm.Allreduce(self.in_place, out, op=self.op)
            for other in outputs[:-1]:
                np.copyto(other, out)
        except BaseException as e:
            error = e
        with self.cond:
            self.error = error
            self.generation += 1
            self.cond.notify_all()
        if error is not None:
            raise error
