"""The in-program half of the per-call order check, shared by pmap's (spmd/pmap_call_order.py)
and jit over a mesh's (transforms/partitioned_call_order.py): the user's program runs only
when every process passed the same (program id, call count) pair, and each run computes the
next call's pair on the devices, so a call sends nothing from the host."""
from __future__ import annotations

from spmd.transforms import core, lax

MODULUS = 2 ** 31 - 1  # of the call count (an int32 that stays positive)
_NEXT = (0, 1, 0, -1)  # from one call's pair (id, count, -id, -count) to the next one's


def run_when_in_step(in_step, body, args: list, out_avals) -> list:
    """`body(*args)` (results of `out_avals`) when `in_step`, else zeros: on a mismatch none of
    the user's collectives runs, so none is paired with another process's wrong one."""
    def skipped(*_):
        return [lax.full(a.shape, 0, a.dtype, a.weak_type) for a in out_avals]
    return list(lax.cond(in_step, lambda *xs: list(body(*xs)), skipped, *args))


def next_pair(pair):
    """The next call's pair(s): rows of 4 along the last axis. Literals, not NumPy constants:
    a partitioned program takes no constants."""
    aval = core.get_aval(pair)
    shape, dtype = aval.shape, aval.dtype
    step = lax.concatenate([lax.full(shape[:-1] + (1,), v, dtype) for v in _NEXT],
                           len(shape) - 1)
    return lax.rem(lax.add(pair, step), lax.full(shape, MODULUS, dtype))
