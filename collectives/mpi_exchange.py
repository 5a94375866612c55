"""all_gather, psum_scatter, all_to_all and ppermute between processes over MPI, from inside the
compiled pmap program, as the all-reduces are (collectives/mpi_all_reduce.py): one host
callback per collective, in the same chain, where the replicas of a process meet and the last
one makes the one MPI call between the processes (Allgather, Reduce_scatter_block, Alltoall;
ppermute: one Sendrecv per process distance that has something to move).

In replica groups (axis_index_groups) the values are gathered within each set of processes
that a group spans, over its sub-communicator, and each member's result is picked from its
group's values (`Exchange`).

The program arranges each operand so that the MPI call works on whole contiguous blocks, one
per replica, in replica order (a transpose or a reshape around the callback, free when the
collective's axis is the first): the callback takes and gives the values stacked along a new
first axis. Replica r lives in process r // L (pmap's devices are in process order, L per
process: `transport.exchanges` checks that), so rank p's blocks are p*L .. p*L + L - 1.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.collectives.mpi_all_reduce import CallbackAllReduce, local_total, widened
from spmd.collectives.mpi_meeting import as_bytes
from spmd.transforms.lowering import i64_array


def over_mpi(ctx, replicas, groups) -> "Exchange | None":
    """How this collective in these replica groups moves over MPI, or None: XLA's own op then."""
    transport = replicas.cross_process
    if transport is None:
        return None
    if transport.exchanges(ctx, groups):
        return Exchange(transport, None)
    return Exchange(transport, groups) if transport.in_groups(ctx) else None


class Exchange:
    """One collective's way over MPI: over the whole axis (`groups` None: one MPI call made for
    it), or in replica groups of `n` (each process's values gathered within every set of
    processes that a group spans, over its sub-communicator, then each member's result picked
    from its group's values with NumPy: more data than the call over the whole axis moves, but
    one Allgather per set of processes)."""

    def __init__(self, transport: CallbackAllReduce, groups):
        self.transport, self.groups = transport, groups
        self.n = len(transport.group_of) if groups is None else len(groups[0])

    def write(self, ctx, x: str, aval, out_aval, site: str, whole: Callable,
              pick: Callable) -> str:
        """The callback: `whole(transport, g)` runs process g's part over the whole axis;
        `pick(values, k)` gives a group's member k its result from the group's values."""
        transport, groups = self.transport, self.groups
        if groups is None:
            return transport.write_chained(ctx, x, aval, out_aval, f'spmd_mpi_{site} = "{self.n}"',
                                           lambda g: whole(transport, g))
        # the groups, in the text: programs that differ only in them must not share an executable
        text = ";".join(",".join(map(str, group)) for group in groups)
        return transport.write_chained(ctx, x, aval, out_aval,
                                       f'spmd_mpi_{site} = "{self.n} in {text}"',
                                       lambda g: _in_groups(transport, groups, g, pick))


# ---------------------------------------------------------------- the lowerings
def all_gather(exchange: Exchange, ctx, x: str, axis: int, tiled: bool) -> str:
    aval = ctx.in_avals[0]
    stacked = aval.update(shape=(exchange.n,) + aval.shape)
    out = exchange.write(ctx, x, aval, stacked, "all_gather", _gather, lambda values, k: values)
    out, moved = _move_axis(ctx, out, stacked, 0, axis)
    return _reshape(ctx, out, moved, ctx.out_avals[0].shape)[0]  # tiled: n merges into `axis`


def psum_scatter(exchange: Exchange, ctx, x: str, dim: int) -> str:
    aval, n = ctx.in_avals[0], exchange.n
    x, front = _move_axis(ctx, x, aval, dim, 0)
    x, blocks = _reshape(ctx, x, front, (n, front.shape[0] // n) + front.shape[1:])
    block = blocks.update(shape=blocks.shape[1:])
    out = exchange.write(ctx, x, blocks, block, "psum_scatter", _scatter,
                         lambda values, k: local_total(list(values[:, k]), np.add))
    if len(ctx.out_avals[0].shape) == len(aval.shape):  # tiled: the block's rows go back
        out, block = _move_axis(ctx, out, block, 0, dim)
    return _reshape(ctx, out, block, ctx.out_avals[0].shape)[0]


def all_to_all(exchange: Exchange, ctx, x: str, split: int, concat: int) -> str:
    aval, n = ctx.in_avals[0], exchange.n
    shape = aval.shape
    x, parts = _reshape(ctx, x, aval, shape[:split] + (n, shape[split] // n) + shape[split + 1:])
    x, sends = _move_axis(ctx, x, parts, split, 0)  # sends[j]: the block for replica j
    out = exchange.write(ctx, x, sends, sends, "all_to_all", _all_to_all,
                         lambda values, k: values[:, k])
    # out[s]: the block from replica s; they are laid out along `concat`, sender first
    out, received = _move_axis(ctx, out, sends, 0, concat)
    return _reshape(ctx, out, received, ctx.out_avals[0].shape)[0]


def ppermute(exchange: Exchange, ctx, x: str, pairs) -> str:
    aval, transport = ctx.in_avals[0], exchange.transport
    # the pairs live in the callback alone: the text must tell two permutations apart, or
    # one's compiled program (cached by its text) would serve the other
    moves = " ".join(f"{s}>{d}" for s, d in pairs)
    return transport.write_chained(ctx, x, aval, aval, f'spmd_mpi_ppermute = "{moves}"',
                                   lambda g: _permute(transport, g, pairs))


def _reshape(ctx, x: str, aval, shape):
    if tuple(shape) == aval.shape:
        return x, aval
    new = aval.update(shape=tuple(shape))
    return ctx.typed("stablehlo.reshape", [x], [aval], new), new


def _move_axis(ctx, x: str, aval, source: int, target: int):
    if source == target:
        return x, aval
    perm = list(range(aval.ndim))
    perm.insert(target, perm.pop(source))
    new = aval.update(shape=tuple(aval.shape[p] for p in perm))
    return ctx.typed("stablehlo.transpose", [x], [aval], new,
                     attrs=f"permutation = {i64_array(perm)}"), new


# ---------------------------------------------------------------- the host side
def _copy_to_others(outputs: list) -> None:
    for other in outputs[1:]:
        np.copyto(other, outputs[0])


def _in_groups(transport, groups, g: int, pick: Callable) -> Callable:
    """Process g's part of a collective in replica groups: its replicas' values, stacked, go
    to every process of each set of processes that a group spans (Allgather over the set's
    communicator; none for a set of this process alone); then each local member of a group
    gets `pick(the group's values in group order, its position in the group)`."""
    communicators, mine = transport.spans(groups, g)
    group_of, position = transport.group_of, transport.position_of

    def run(comm, inputs, outputs):
        comms, local = communicators(comm), np.stack(inputs)
        for processes, over in mine:
            gathered = local[None]  # [rank in the set, local position]: a replica's value
            if len(processes) > 1:
                gathered = np.empty((len(processes),) + local.shape, local.dtype)
                comms[processes].Allgather(as_bytes(local), as_bytes(gathered))
            rank = {p: i for i, p in enumerate(processes)}
            for group in over:
                values = np.stack([gathered[rank[group_of[r]], position[r]] for r in group])
                for k, r in enumerate(group):
                    if group_of[r] == g:
                        np.copyto(outputs[position[r]], pick(values, k), casting="unsafe")
    return run


def _gather(transport, g: int) -> Callable:
    mine, in_place = transport.groups[g], transport.in_place

    def run(comm, inputs, outputs):
        out = outputs[0]  # (n, ...): every replica's value, in replica order
        if len(inputs) == 1:
            comm.Allgather(as_bytes(inputs[0]), as_bytes(out))
        else:  # this process's rows in place, then MPI fills the others'
            for r, x in zip(mine, inputs):
                out[r] = x
            comm.Allgather(in_place, as_bytes(out))
        _copy_to_others(outputs)
    return run


def _scatter(transport, g: int) -> Callable:
    op = transport.ops["sum"]

    def run(comm, inputs, outputs):
        count = len(inputs)
        if count == 1 and not widened(inputs[0].dtype):
            comm.Reduce_scatter_block(inputs[0], outputs[0], op=op)
            return
        total = local_total(inputs, np.add)  # (n, *block)
        mine = np.empty((count,) + total.shape[1:], total.dtype)
        comm.Reduce_scatter_block(total, mine, op=op)
        for part, out in zip(mine, outputs):
            np.copyto(out, part, casting="unsafe")  # (from float32 for the narrow floats)
    return run


def _all_to_all(transport, g: int) -> Callable:
    count, processes = len(transport.groups[g]), len(transport.groups)

    def run(comm, inputs, outputs):
        if count == 1:
            comm.Alltoall(as_bytes(inputs[0]), as_bytes(outputs[0]))
            return
        block = inputs[0].shape[1:]
        # send[q, t, s]: what local replica s sends to replica t of process q
        stacked = np.stack(inputs).reshape((count, processes, count) + block)
        send = np.ascontiguousarray(stacked.transpose((1, 2, 0) + tuple(range(3, 3 + len(block)))))
        received = np.empty_like(send)  # [p, t, s]: from replica s of process p to local t
        comm.Alltoall(as_bytes(send), as_bytes(received))
        for t, out in enumerate(outputs):
            np.copyto(out.reshape((processes, count) + block), received[:, t])
    return run


def _permute(transport, g: int, pairs) -> Callable:
    """Within the process: copies. Between processes, in rounds k = 1 .. P-1: send to process
    g + k and receive from g - k (each side knows from `pairs` whether there is anything, and
    how much: the pairs between two processes, in the order of `pairs`)."""
    groups, group_of, position = transport.groups, transport.group_of, transport.position_of
    processes, null = len(groups), transport.proc_null
    local = [(position[s], position[d]) for s, d in pairs
             if group_of[s] == g and group_of[d] == g]
    zeros = sorted(set(range(len(groups[g]))) - {position[d] for s, d in pairs
                                                  if group_of[d] == g})
    rounds = []
    for k in range(1, processes):
        dest, source = (g + k) % processes, (g - k) % processes
        sends = [position[s] for s, d in pairs if group_of[s] == g and group_of[d] == dest]
        receives = [position[d] for s, d in pairs if group_of[s] == source and group_of[d] == g]
        if sends or receives:
            rounds.append((dest if sends else null, sends, source if receives else null,
                           receives))
    nothing = np.empty(0, np.uint8)

    def run(comm, inputs, outputs):
        for j in zeros:
            outputs[j].fill(0)
        for s, d in local:
            np.copyto(outputs[d], inputs[s])
        for dest, sends, source, receives in rounds:
            send = (nothing if not sends else as_bytes(inputs[sends[0]]) if len(sends) == 1
                    else as_bytes(np.stack([inputs[j] for j in sends])))
            into = (outputs[receives[0]] if len(receives) == 1
                    else np.empty((len(receives),) + outputs[0].shape, outputs[0].dtype))
            comm.Sendrecv(send, dest, recvbuf=as_bytes(into) if receives else nothing,
                          source=source)
            if len(receives) > 1:
                for part, j in zip(into, receives):
                    np.copyto(outputs[j], part)
    return run
