"""psum, pmean, pmax and pmin between processes over MPI, from inside the compiled pmap program
(and, in jobs without MPI, reduced within each process before gloo: `gloo_after_local`); the
transport's host callbacks, which all_gather, psum_scatter, all_to_all and ppermute between
processes use too (collectives/mpi_exchange.py).

When the processes of a job are the ranks of an MPI communicator (started by mpirun/mpiexec),
an all-reduce over a pmap axis that spans processes is not lowered to an XLA all_reduce (which
runs over gloo's TCP, even between the devices of one process) but to a host callback that
every replica calls: jaxlib's zero-copy `xla_buffer_python_cpu_callback`, which hands Python
XLA's own input and output buffers. The replicas of a process meet there; the last to arrive
reduces all of their inputs into its output with NumPy, runs MPI Allreduce in place on it
between the processes, and copies the result into the others' outputs
(collectives/mpi_meeting.py). bfloat16, float16 and the other narrow floats are reduced in
float32 and rounded once at the end (MPI has no such types). Measured here: 16 MiB
between 2 processes in 0.93 to 1.07 of raw MPI's time, against gloo's 0.5 to 0.6 of its
bandwidth; a 4 KB psum in 0.16 ms against gloo's 2.9 ms (benchmarks/RESULTS.md, issue 6).

With `axis_index_groups`, each group is reduced over the sub-communicator of the processes
that hold its members (made once per set of processes, cluster/mpi_world.py), or within the
process when one holds them all; the groups over one set of processes go in one call.

MPI needs every process to call its collectives in the same order. Three things give that:
- each callback takes the previous one's token (an extra ui8 result) as an extra operand, so
  XLA (which may run independent ops concurrently) runs them in program order; loops and
  branches carry that token through their regions (lowering.OrderedChain), so a loop body's
  callbacks, run a data-dependent number of times but in the same order in every process, stay
  between the ones before and after the loop;
- the sub-communicators are made inside the callbacks, at their first run: there every process
  is at the same point of the chain (MPI_Comm_split is collective over the whole world);
- pmap runs a program that calls MPI only after the previous one has finished, so two
  executions never interleave their MPI calls (spmd/pmap_program.py).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.collectives.mpi_meeting import LocalMeeting, as_bytes
from spmd.collectives.psum import write_all_reduce
from spmd.transforms import callbacks, dtypes
from spmd.transforms.core import ShapedArray
from spmd.transforms.lowering import ORDER_TOKEN

# The dtypes MPI reduces natively (mpi4py maps them from the buffer's format). Narrower floats
# are reduced in float32 (`_WIDE`), booleans as bytes (max/min are or/and on 0 and 1).
_MPI_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                                     np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                                     np.complex64, np.complex128)}
_WIDE = np.dtype(np.float32)
_REPLICA_ID = ShapedArray((), np.uint32)
_COMBINE = {"sum": np.add, "max": np.maximum, "min": np.minimum}  # within a process
# marks the callback that runs pmap's per-call order check (spmd/pmap_call_order.py `carried`)
CHECKS_CALL_ORDER = "spmd_checks_call_order"


def widened(dtype: np.dtype) -> bool:
    """A float MPI cannot reduce (bfloat16, float16, float8s): reduced in float32."""
    return dtype not in _MPI_DTYPES and dtypes.is_inexact(dtype) and not dtypes.is_complex(dtype)


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
    hands that step to an XLA all_reduce. Over MPI, the other collectives over the whole axis
    are host callbacks too (`exchanges`, collectives/mpi_exchange.py).

    `groups`: the replicas of each process (global replica ids, one list per process, all of
    one size; the list's index is the process's MPI rank). `comms`: for each group that lives
    in this process, the communicator it reduces over (in a real job: this process's group ->
    MPI.COMM_WORLD), or None: then the callback only reduces within the process, and an XLA
    all_reduce between the processes follows, in groups of one replica per process (see
    `gloo_after_local`). `ops`: the communicator's reduction op for "sum", "max" and "min";
    `in_place`: its in-place marker (MPI.IN_PLACE); `proc_null`: its no-peer rank
    (MPI.PROC_NULL, for ppermute's rounds)."""

    def __init__(self, groups: Sequence[Sequence[int]], comms: dict, ops: dict, in_place=None,
                 proc_null=None, sub_communicator: Callable | None = None):
        self.groups = [list(g) for g in groups]
        if len({len(g) for g in self.groups}) != 1:
            raise ValueError(f"MPI all-reduce needs the same number of devices in every "
                             f"process, got groups {self.groups}")
        self.group_of = {r: i for i, g in enumerate(self.groups) for r in g}
        self.position_of = {r: j for g in self.groups for j, r in enumerate(g)}
        self.comms, self.ops, self.in_place = dict(comms), dict(ops), in_place
        self.proc_null = proc_null
        # `sub_communicator(comm, ranks)`: the communicator of those ranks of `comm` (null in
        # the others), which every rank of `comm` asks for at the same point; None: the
        # all-reduces with axis_index_groups stay XLA's
        self.sub_communicator = sub_communicator
        # `check_order(comm)`, when set, runs before the MPI call of the program's first
        # collective (the per-call order check, spmd/pmap_call_order.py): first in the chain,
        # it precedes every other MPI call of the execution
        self.check_order: Callable | None = None

    @property
    def between_processes(self) -> str:
        """"mpi", or "gloo" (XLA's all_reduce) when there is no communicator."""
        return "gloo" if all(c is None for c in self.comms.values()) else "mpi"

    def handles(self, ctx, kind: str, groups: Sequence[Sequence[int]]) -> bool:
        """Whether this all-reduce in these replica groups goes through the callback: in the
        chain (lowering.LoweringContext.chained), of a dtype it reduces, over the whole axis or
        (over MPI, with sub-communicators) in groups."""
        dtype = np.dtype(ctx.in_avals[0].dtype)
        return (ctx.chained and (dtype in _MPI_DTYPES or dtype == np.bool_ or widened(dtype))
                and not (kind != "sum" and dtype.kind == "c")
                and (self._whole(groups) or self.in_groups(ctx)))

    def in_groups(self, ctx) -> bool:
        """Whether collectives in replica groups (not over the whole axis) go through the
        callbacks: over MPI, with sub-communicators, in the chain."""
        return (self.between_processes == "mpi" and self.sub_communicator is not None
                and ctx.chained)

    def spans(self, groups, g: int) -> tuple[Callable, list]:
        """For replica `groups`, seen from process g: `communicators(comm)`, {processes:
        communicator} for every set of processes that a group spans (every process asks for
        every one, in one order: MPI_Comm_split is collective over the world, and its first
        call makes them), and [(processes, their groups)] of the sets that include g, in the
        order of their first group (the same in every process, so that none waits in a call
        that another makes later)."""
        everyone = tuple(range(len(self.groups)))
        spans: dict[tuple, list] = {}
        for group in groups:
            spans.setdefault(tuple(sorted({self.group_of[r] for r in group})), []).append(group)
        shared = [p for p in spans if 1 < len(p) < len(everyone)]
        sub = self.sub_communicator

        def communicators(comm) -> dict:
            made = {p: sub(comm, p) for p in shared}
            made[everyone] = comm
            return made
        return communicators, [(p, spans[p]) for p in spans if g in p]

    def exchanges(self, ctx, groups: Sequence[Sequence[int]]) -> bool:
        """Whether a collective that moves data (all_gather, psum_scatter, all_to_all, ppermute)
        in these replica groups goes over MPI: with a communicator, in the chain, over the whole
        axis (one group of every replica, in order), with the replicas of process p after those
        of process p - 1 (MPI lays blocks out in rank order)."""
        everyone = list(range(len(self.group_of)))
        in_rank_order = [r for g in self.groups for r in g] == everyone  # pmap's device order
        return (self.between_processes == "mpi" and ctx.chained and in_rank_order
                and [list(g) for g in groups] == [everyone])

    def lower(self, ctx, x: str, kind: str, groups=None, then: Callable | None = None) -> str:
        """The all-reduce of `x` in replica `groups` (None: over the whole axis); `then(x, out)`,
        when given, runs in every replica on the reduced value before the callback returns (the
        call-order check raises there)."""
        aval = ctx.in_avals[0]
        if groups is not None and not self._whole(groups):
            # the groups, visible in the text: two programs that differ only in them must not
            # share a compiled executable (cached by its text)
            text = ";".join(",".join(map(str, g)) for g in groups)
            return self.write_chained(ctx, x, aval, aval,
                                      f'spmd_mpi_all_reduce = "{kind} in {text}"',
                                      lambda g: self._grouped(kind, groups, g))
        # the reduction, visible in the text that processes compare before a first run
        # (spmd/pmap_agreement.py): a psum and a pmax must not pass as equal
        out = self.write_chained(ctx, x, aval, aval, f'spmd_mpi_all_reduce = "{kind}"',
                                 lambda g: _reduction(kind, self.ops.get(kind), self.in_place),
                                 then)
        if self.between_processes == "gloo":  # between processes: XLA's all_reduce
            out = write_all_reduce(ctx, out, kind, self.across())
        return out

    def write_chained(self, ctx, x: str, aval, out_aval, attribute: str,
                      run_for: Callable, then: Callable | None = None) -> str:
        """A host callback that every replica calls with `x` (typed `aval`), and whose result
        (typed `out_aval`) the process's meeting fills: `run_for(g)` gives the function that
        process g's last replica runs, `run(comm, inputs, outputs)`. It takes the previous
        callback's token and returns the next (ModuleContext.ordered_token), so that XLA calls
        them in program order."""
        replica = ctx.op("stablehlo.replica_id", [], out_avals=[_REPLICA_ID], operand_avals=[])
        operands, operand_avals = [x, replica], [aval, _REPLICA_ID]
        module = ctx.module
        first = module.ordered_token is None
        if not first:  # the previous call's token: called after it
            operands.append(module.ordered_token)
            operand_avals.append(ORDER_TOKEN)
        # the call-order check runs in the chain's first callback, if that is in the top-level
        # block (run once per execution); the mark tells pmap it is carried there
        before = self.check_order if first and not ctx.nested else None
        if before is not None:
            attribute += f', {CHECKS_CALL_ORDER} = "here"'
        meetings = {g: LocalMeeting(len(self.groups[g]), self.comms[g], run_for(g), before)
                    for g in self.comms}
        group_of, position_of = self.group_of, self.position_of

        def meet(_ctx, x, replica, *rest):
            r = int(np.asarray(replica))
            x, out = np.asarray(x), np.asarray(rest[-2])  # (rest[-1]: the token, unread)
            meetings[group_of[r]].arrive(position_of[r], x, out)
            if then is not None:
                then(x, out)
            return ()
        out, module.ordered_token = callbacks.write_host_callback(
            ctx, meet, operands, operand_avals, [out_aval, ORDER_TOKEN], attribute)
        return out

    def _whole(self, groups) -> bool:
        return len(groups) == 1 and sorted(groups[0]) == list(range(len(self.group_of)))

    def _grouped(self, kind: str, groups, g: int) -> Callable:
        """Process g's part of an all-reduce in replica groups: each group's local members
        combined, then (when its members span processes) MPI Allreduce over the
        sub-communicator of those processes, one call for all the groups over the same ones;
        every member's output filled."""
        communicators, mine = self.spans(groups, g)
        combine, op, in_place = _COMBINE[kind], self.ops.get(kind), self.in_place
        mine = [(processes, [[self.position_of[r] for r in group if self.group_of[r] == g]
                             for group in over]) for processes, over in mine]

        def run(comm, inputs, outputs):
            comms = communicators(comm)
            for processes, members in mine:
                totals = np.stack([local_total([inputs[j] for j in m], combine) for m in members])
                if len(processes) > 1:
                    comms[processes].Allreduce(in_place, _native(totals), op=op)
                for total, m in zip(totals, members):
                    for j in m:
                        np.copyto(outputs[j], total, casting="unsafe")
        return run

    def across(self) -> list[list[int]]:
        """Replica groups of one replica per process (one group per local device index)."""
        return [[g[j] for g in self.groups] for j in range(len(self.groups[0]))]


def _reduction(kind: str, op, in_place) -> Callable:
    """The process's part of an all-reduce: its replicas' values combined (in float32 for the
    narrow floats), then MPI Allreduce between the processes when there is a communicator."""
    combine = _COMBINE[kind]

    def run(comm, inputs, outputs):
        out = outputs[0]
        if widened(out.dtype):
            total = local_total(inputs, combine)
            if comm is not None:
                comm.Allreduce(in_place, total, op=op)
            np.copyto(out, total, casting="unsafe")
        elif len(inputs) == 1 and comm is not None:  # one replica: no copy
            comm.Allreduce(_native(inputs[0]), _native(out), op=op)
        else:
            np.copyto(out, inputs[0])
            for other in inputs[1:]:
                combine(out, other, out=out)
            if comm is not None:
                comm.Allreduce(in_place, _native(out), op=op)
        for other in outputs[1:]:
            np.copyto(other, out)
    return run


def local_total(inputs: list, combine) -> np.ndarray:
    """The replicas' values combined into a new array (float32 for the narrow floats)."""
    total = inputs[0].astype(_WIDE if widened(inputs[0].dtype) else inputs[0].dtype)
    for other in inputs[1:]:
        combine(total, other.astype(total.dtype, copy=False), out=total)
    return total


def _native(x: np.ndarray) -> np.ndarray:
    """A buffer MPI reduces as it is: booleans as bytes."""
    return as_bytes(x) if x.dtype == np.bool_ else x


def write_host_callback(ctx, fn: Callable, operands, operand_avals, out_aval,
                        attribute: str) -> str:
    """A zero-copy host callback `fn(ctx, *inputs, out)` with one result (see
    transforms/callbacks.py); `attribute` (`name = "value"`) marks it in the program text."""
    return callbacks.write_host_callback(ctx, fn, operands, operand_avals, [out_aval], attribute)
