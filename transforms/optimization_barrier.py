"""optimization_barrier: values unchanged, but XLA may not move computation across this point
(remat keeps its recomputation behind one; the per-call order checks hold every argument back
until the check has run). Its own module, below jit: the checks are built by layers that jit
itself imports."""
from __future__ import annotations

from typing import Sequence

from spmd.transforms import core
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import transpose_rules

optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)
optimization_barrier_p.def_abstract_eval(lambda *avals: list(avals))


def _barrier_lowering(ctx, *args):
    out = ctx.op("stablehlo.optimization_barrier", list(args))
    return out if len(args) > 1 else [out]  # ctx.op names a lone result without a list


lowering_rules[optimization_barrier_p] = _barrier_lowering
batching_rules[optimization_barrier_p] = lambda axis, args, dims: (
    optimization_barrier_p.bind(*args), dims)


def _barrier_jvp(primals, tangents):
    nz = [t for t in tangents if type(t) is not Zero]
    outs = optimization_barrier_p.bind(*primals)
    it = iter(optimization_barrier_p.bind(*nz) if nz else [])
    return outs, [t if type(t) is Zero else next(it) for t in tangents]


jvp_rules[optimization_barrier_p] = _barrier_jvp
transpose_rules[optimization_barrier_p] = lambda cts, *args: [
    None if type(ct) is Zero else ct for ct in cts]


def optimization_barrier(values: Sequence) -> list:
    """The values unchanged, but XLA may not move computation across this point. Concrete
    values (eager execution) are returned as they are: each op runs on its own there anyway."""
    values = list(values)
    if all(core.is_concrete(v) for v in values):
        return values
    return optimization_barrier_p.bind(*values)
