"""psum, pmean, pmax and pmin between processes over MPI, from inside the compiled pmap program.

When the processes of a job are the ranks of an MPI communicator (started by mpirun/mpiexec),
an all-reduce over a pmap axis that spans processes is lowered in two steps instead of one
XLA all_reduce (which would run over gloo's TCP, about 0.55 of MPI's bandwidth here):
1. the replicas of each process reduce among themselves with an XLA all_reduce (in memory);
2. each replica calls a host callback (jaxlib's zero-copy `xla_buffer_python_cpu_callback`,
   which hands Python XLA's own buffers): the process's first replica runs MPI Allreduce
   between the processes straight from its input buffer into its output buffer, and the
   process's other replicas copy that result into theirs.

MPI needs every process to call its collectives in the same order. Three things give that:
- each callback takes the previous one's result as an extra operand (which it ignores), so XLA
  (which may run independent ops concurrently) runs them in program order;
- only collectives in the program's top-level block use MPI: one inside a loop body or a
  branch (run 0 or many times) stays an XLA all_reduce;
- pmap runs a program that uses MPI only after the previous such execution has finished
  (`serial` below), so two executions never interleave their MPI calls.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from collectives.axes import groups_attr
from transforms.core import ShapedArray

# The dtypes MPI reduces natively (mpi4py maps them from the buffer's format). Others
# (float16, bfloat16, bool) stay on XLA's all_reduce.
_MPI_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                                     np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                                     np.complex64, np.complex128)}
_REPLICA_ID = ShapedArray((), np.uint32)
_HLO = {"sum": "stablehlo.add", "max": "stablehlo.maximum", "min": "stablehlo.minimum"}


class MpiAllReduce:
    """The cross-process transport of one pmap program.

    `groups`: the replicas of each process (global replica ids, one list per process, all of
    one size). `comms`: for each group that lives in this process, the communicator its first
    replica reduces over (in a real job: this process's group -> MPI.COMM_WORLD). `ops`: the
    communicator's reduction op for "sum", "max" and "min"."""

    def __init__(self, groups: Sequence[Sequence[int]], comms: dict, ops: dict):
        self.groups = [list(g) for g in groups]
        if len({len(g) for g in self.groups}) != 1:
            raise ValueError(f"MPI all-reduce needs the same number of devices in every "
                             f"process, got groups {self.groups}")
        self.group_of = {r: i for i, g in enumerate(self.groups) for r in g}
        self.comms, self.ops = dict(comms), dict(ops)

    def handles(self, ctx, kind: str, axis_index_groups) -> bool:
        """Whether this all-reduce goes over MPI: over the whole axis (no sub-groups), in the
        top-level block, of a dtype MPI reduces."""
        dtype = np.dtype(ctx.in_avals[0].dtype)
        return (axis_index_groups is None and not ctx.nested and dtype in _MPI_DTYPES
                and not (kind != "sum" and dtype.kind == "c"))

    def lower(self, ctx, x: str, kind: str) -> str:
        aval = ctx.in_avals[0]
        if len(self.groups[0]) > 1:  # step 1: within each process
            x = ctx.op("stablehlo.all_reduce", [x],
                       regions=[ctx.scalar_reducer(aval.dtype, _HLO[kind])],
                       attrs=groups_attr(self.groups))
        replica = ctx.op("stablehlo.replica_id", [], out_avals=[_REPLICA_ID], operand_avals=[])
        module = ctx.module
        index = len(module.host_callbacks)
        module.host_callbacks.append(self._callback(self.ops[kind]))
        operands, operand_avals = [x, replica], [aval, _REPLICA_ID]
        if module.ordered_token is not None:  # the previous call's result: called after it
            operands.append(module.ordered_token[0])
            operand_avals.append(module.ordered_token[1])
        out = ctx.op(
            "stablehlo.custom_call", operands, out_avals=[aval], operand_avals=operand_avals,
            attrs=('api_version = 4 : i32, call_target_name = "xla_buffer_python_cpu_callback",'
                   f' has_side_effect = true, backend_config = {{index = {index} : ui64}},'
                   # the reduction, visible in the text that processes compare before a first
                   # run (spmd/pmap_agreement.py): a psum and a pmax must not pass as equal
                   f' mhlo.frontend_attributes = {{spmd_mpi_all_reduce = "{kind}"}}'))
        module.ordered_token = (out, aval)
        return out

    def _callback(self, op) -> Callable:
        """The host callback of one all-reduce site: (ctx, x, replica id, [previous], out)."""
        meetings = {g: _LocalMeeting(len(self.groups[g]), self.comms[g]) for g in self.comms}
        group_of = self.group_of

        def all_reduce(_ctx, x, replica, *rest):
            out = np.asarray(rest[-1])
            meetings[group_of[int(np.asarray(replica))]].reduce(np.asarray(x), out, op)
            return ()
        return all_reduce


class _LocalMeeting:
    """Where the replicas of one process meet at one all-reduce site, once per execution: the
    first to arrive reduces over MPI, the others wait and copy its result. The first one
    returns only after they have copied: XLA may reuse its output buffer once it returns."""

    def __init__(self, count: int, comm):
        self.count, self.comm = count, comm
        self.cond = threading.Condition()
        self.arrived = self.copied = 0
        self.result = None   # the first replica's output, once reduced
        self.error = None    # what its MPI call raised, for the others to raise too

    def reduce(self, x: np.ndarray, out: np.ndarray, op) -> None:
        if self.count == 1:
            self.comm.Allreduce(x, out, op=op)
            return
        with self.cond:
            first = self.arrived == 0
            self.arrived += 1
        if first:
            try:
                self.comm.Allreduce(x, out, op=op)
            except BaseException as e:
                self.error = e
                raise
            finally:
                with self.cond:
                    self.result = out
                    self.cond.notify_all()
                    self.cond.wait_for(lambda: self.copied == self.count - 1)
                    self.arrived = self.copied = 0
                    self.result = self.error = None
            return
        with self.cond:
            self.cond.wait_for(lambda: self.result is not None)
            if self.error is not None:
                error = self.error
            else:
                error = None
                np.copyto(out, self.result)
            self.copied += 1
            self.cond.notify_all()
        if error is not None:
            raise RuntimeError(f"the MPI all-reduce of this process failed: {error}")
