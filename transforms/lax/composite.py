"""Lowerings written as lax functions instead of StableHLO text.

Two uses: a primitive whose lowering is a composite of other primitives (the cumulative
reductions lower to an associative scan built from slices), and the scalar regions of sort
and variadic reduce (comparators, argmax's combiner), which read better as lax code than as
hand-written ops. Either way the function is traced to a program and that program is lowered
in place, so the composite shares every other primitive's lowering.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core
from spmd.transforms.core import ShapedArray
from spmd.transforms.lowering import LoweringContext, lower_jaxpr
from spmd.transforms.staging import trace_to_jaxpr


def _trace(fn: Callable, avals: Sequence[ShapedArray]):
    closed = trace_to_jaxpr(lambda *xs: list(fn(*xs)), list(avals), core.eval_trace)
    return closed.jaxpr, closed.consts


def lower_fun(fn: Callable, multiple_results: bool = False):
    """A lowering rule that lowers `fn(*operands, **params)` (lax code) in place."""
    def lower(ctx: LoweringContext, *operands, **params):
        def call(*xs):
            out = fn(*xs, **params)
            return out if multiple_results else [out]
        jaxpr, consts = _trace(call, ctx.in_avals)
        const_names = [ctx.constant(np.asarray(c), core.get_aval(c).strip_weak()) for c in consts]
        outs = lower_jaxpr(ctx, jaxpr, const_names, list(operands))
        return outs if multiple_results else outs[0]
    return lower


def scalar_region(ctx: LoweringContext, fn: Callable, avals: Sequence[ShapedArray]) -> str:
    """A region whose block takes scalars of `avals` and returns `fn(*scalars)` (a list)."""
    jaxpr, consts = _trace(fn, [a.strip_weak() for a in avals])
    # Regions of sort and reduce see only their block arguments, so the body may not close
    # over arrays; scalars written in lax code become literals, which are fine.
    assert not consts, "a region function must not close over arrays"
    return ctx.jaxpr_region(jaxpr)
