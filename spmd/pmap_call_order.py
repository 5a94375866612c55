"""At every run of a pmap program spanning several processes: every process runs the same
program, at the same call.

gloo and MPI pair collectives by their position in each process's stream, not by what they
belong to: two programs run in a different order on two processes, or one process skipping a
call, pair the wrong collectives (wrong values, then a hang, or MPI's "Message truncated").
pmap_agreement.py compares the programs once, through the key-value store, far too slow for
every call (a 4 KB psum over MPI takes ~0.1 ms). So the check rides inside the program itself:
it takes (program id, call count) as an extra input, and its first step is a tiny reduction
of (id, count, -id, -count) with max over the processes (over gloo an all_gather, then the
max): the result equals this process's own pair iff every process passed the same one, so
every process reaches the same verdict.

Where XLA's own collectives carry the program (gloo), the verdict stays inside the program
(`check_in_program`): the user's body runs in the branch of a `case` taken when the processes
agree (on a mismatch no collective of the user runs, so none is paired wrongly), and the
program returns the reduced pair, which the host compares with its own before the call
returns: a mismatch raises there, on every process, and no result of that call is returned.
The count stays on the devices (each run returns the next call's pair), so a call sends
nothing. A Python host callback in the program, even one never called, would make XLA's CPU
runtime run every execution inside the dispatch, which cost the 4 KB psum step 1.6x and
more (benchmarks/RESULTS.md, issue 14).

Where host callbacks carry collectives anyway (MPI, or gloo after a reduction within the
process), a host callback checks the reduced pair and raises on a mismatch
(`check_call_order`), which stops the program before any of the user's collectives (every
argument passes through an optimization barrier that waits for the check). A collective on
constants alone (nothing depends on an argument) is not held back there.

Over MPI, when MPI carries every collective of the program, the first MPI callback
makes that tiny MPI call itself before its own (CallCounter): no input, no extra callback, no
barrier (spmd/pmap_program.py chooses). Costs: benchmarks/RESULTS.md, issue 14.

What it cannot see: a process that skips one call of the only cross-process program it runs
pairs its k-th call with the others' k-th (same program, same count); that shows when the
others' last call finds no partner (a stall, not a wrong pairing of different programs).
"""
from __future__ import annotations

import re

import numpy as np

from spmd.collectives.axes import groups_attr, replica_axes
from spmd.collectives.mpi_all_reduce import CHECKS_CALL_ORDER, write_host_callback
from spmd.pmap_agreement import program_digest
from spmd.transforms import backend, lax
from spmd.transforms.call_order_program import MODULUS, next_pair, run_when_in_step
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.optimization_barrier import optimization_barrier_p

PAIR = ShapedArray((4,), np.int32)  # (id, count, -id, -count)
_names: dict[int, tuple] = {}  # program id -> (kind, name), of the programs this process built
_mismatch: list[str] = []    # the message, once a check failed here (every later call raises)


class CallOrderError(RuntimeError):
    """Processes ran different pmap (or mesh jit) programs, or the same one at different
    calls, at once."""


def program_id(name: str, text: str, kind: str = "pmap") -> int:
    """A 28-bit id of the program, the same on every process that built the same program
    (`kind`: "pmap", or "jit" for a program over a mesh, transforms/partitioned_call_order.py)."""
    pid = int(program_digest(text)[:7], 16) + 1
    _names.setdefault(pid, (kind, name))
    return pid


def pair(pid: int, calls: int) -> np.ndarray:
    """The check's input: (id, count, -id, -count)."""
    count = calls % MODULUS
    return np.array([pid, count, -pid, -count], np.int32)


class CallCounter:
    """The check carried by the first MPI callback (no input, no call of its
    own): such programs run one at a time in call order (spmd/pmap_program.py), so counting
    the callback's executions counts the calls."""

    def __init__(self, op_max, int32):
        self.op_max, self.program_id, self.calls = op_max, None, 0
        self.mine, self.reduced = np.empty(4, np.int32), np.empty(4, np.int32)
        # buffer specs with their MPI type spelled out: mpi4py skips reading the dtype
        self.send, self.receive = [self.mine, int32], [self.reduced, int32]

    def __call__(self, comm) -> None:
        # a per-step cost on the hot path (~2 us): no allocation, one MPI call
        self.calls += 1
        count = self.calls % MODULUS
        pid, mine = self.program_id, self.mine
        mine[0], mine[1], mine[2], mine[3] = pid, count, -pid, -count
        comm.Allreduce(self.send, self.receive, op=self.op_max)
        reduced = self.reduced
        if reduced[0] != pid or reduced[1] != count or reduced[2] != -pid or \
                reduced[3] != -count:
            _verify(mine, reduced)


def carry_in_callbacks(transport) -> CallCounter | None:
    """When MPI carries the program's all-reduces: the counter its first callback runs."""
    if transport is None or transport.between_processes != "mpi":
        return None
    transport.check_order = CallCounter(transport.ops["max"], transport.ops["int32"])
    return transport.check_order


# XLA's own collectives (over gloo) could run before the first callback: then the check must be
# a step of its own, which every argument waits for
_XLA_COLLECTIVES = re.compile(r'"stablehlo\.(all_reduce|all_gather|all_to_all|reduce_scatter|'
                              r'collective_permute|collective_broadcast)"')


def carried(text: str) -> bool:
    """Whether a program lowered with a CallCounter runs it before any collective: in its
    first callback, which is in the top-level block (not in a loop body: run 0 or many
    times), and no XLA collective could run before it."""
    return CHECKS_CALL_ORDER in text and not _XLA_COLLECTIVES.search(text)


def check_call_order(pair_value, args: list) -> list:
    """In the traced replica: the check, then `args` held back until it has passed."""
    checked = order_check_p.bind(pair_value, on_host=True)
    return optimization_barrier_p.bind(checked, *args)[1:] if args else []


def check_in_program(pair_value, body, args: list, out_avals) -> list:
    """In the traced replica: `body(*args)` (whose results have `out_avals`) run only when
    every process passed the same pair; returns its results (zeros on a mismatch), the reduced
    pair (for `verify`) and the next call's pair."""
    reduced = order_check_p.bind(pair_value, on_host=False)
    in_step = lax.reduce_and(lax.eq(reduced, pair_value), axes=(0,))
    outs = run_when_in_step(in_step, body, args, out_avals)
    return outs + [reduced, next_pair(pair_value)]


def verify(mine: np.ndarray, reduced: np.ndarray) -> None:
    """On the host, after a run checked in the program: raise unless every process was in
    step (`reduced` equals this process's own pair)."""
    if reduced[0] != mine[0] or reduced[1] != mine[1] or reduced[2] != mine[2] or \
            reduced[3] != mine[3]:
        _verify(mine, reduced)


def raise_if_failed() -> None:
    """Raise the mismatch a check of this process found (a later call must not run)."""
    if _mismatch:
        raise CallOrderError(_mismatch[0])


def _side(pid: int, count: int) -> str:
    kind, name = _names.get(pid, (None, None))
    what = (f"{kind} of {name}" if name is not None
            else f"a program this process never built (id {pid:07x})")
    return f"{what} (its call {count})"


def _verify(mine: np.ndarray, reduced: np.ndarray) -> None:
    """Raise unless every process passed `mine`; `reduced` is the max over the processes of
    (id, count, -id, -count)."""
    high_id, high_count, low_id, low_count = (int(v) for v in reduced)
    low_id, low_count = -low_id, -low_count
    if high_id == low_id and high_count == low_count:
        return
    my_id, my_count = int(mine[0]), int(mine[1])
    # the max and min of each field: with two processes, exactly the other one's values
    other_id = low_id if my_id == high_id else high_id
    other_count = low_count if my_count == high_count else high_count
    kind = _names.get(my_id, ("pmap",))[0]
    message = (f"{kind} calls out of step between processes: process {backend.process_index()} "
               f"ran {_side(my_id, my_count)} while another process ran "
               f"{_side(other_id, other_count)}. Every process must run the same "
               f"{'pmapped' if kind == 'pmap' else 'jitted'} functions (those spanning "
               "processes), as many times, in the same order (look for a branch on "
               "process_index() or on data that differs between processes); nothing this call "
               "computed was returned")
    if not _mismatch:
        _mismatch.append(message)
    raise CallOrderError(message)


def _verify_callback(_ctx, mine, reduced, out):
    reduced = np.asarray(reduced)
    _verify(np.asarray(mine), reduced)
    np.copyto(np.asarray(out), reduced)
    return ()


order_check_p = Primitive("pmap_call_order_check", collective=True)
order_check_p.def_abstract_eval(lambda aval, *, on_host: aval)


def _lower(ctx, x, *, on_host: bool):
    """The reduced pair; with `on_host`, checked there (a host callback that raises)."""
    replicas = replica_axes(ctx, "the pmap call-order check")
    transport = replicas.cross_process
    if transport is not None and transport.between_processes == "mpi":
        return transport.lower(ctx, x, "max", then=_verify)  # MPI, first in the callback chain
    groups = transport.across() if transport is not None else \
        [list(range(replicas.num_replicas))]
    reduced = _max_over(ctx, x, groups)
    if not on_host:
        return reduced
    return write_host_callback(ctx, _verify_callback, [x, reduced], [PAIR, PAIR], PAIR,
                               'spmd_call_order_check = "gloo"')


_INT = ShapedArray((), np.int32)


def _max_over(ctx, x: str, groups) -> str:
    """The max of the pair over each replica group, as an all_gather and a max here: gloo's
    all_gather passes the ring once (n - 1 messages), its all_reduce twice, and on a small
    step that message round is the check's whole cost (benchmarks/RESULTS.md, issue 14)."""
    row, rows = PAIR.update(shape=(1, 4)), PAIR.update(shape=(len(groups[0]), 4))
    gathered = ctx.op("stablehlo.all_gather", [ctx.typed("stablehlo.reshape", [x], [PAIR], row)],
                      [rows], operand_avals=[row],
                      attrs=f"all_gather_dim = 0 : i64, {groups_attr(groups)}")
    lowest = ctx.constant(np.int32(np.iinfo(np.int32).min), _INT)
    return ctx.op("stablehlo.reduce", [gathered, lowest], [PAIR], operand_avals=[rows, _INT],
                  attrs="dimensions = array<i64: 0>",
                  regions=[ctx.scalar_reducer(np.int32, "stablehlo.maximum")])


_verify_callback.order_check = True  # meets no other replica: no need to run alone
lowering_rules[order_check_p] = _lower
