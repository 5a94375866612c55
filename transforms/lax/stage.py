"""lax.stage: the identity that lifts a value (a Python scalar, a NumPy array) into the current
trace, as a staged equation (`stage_p`); outside any trace it returns an Array."""
from __future__ import annotations

from spmd.transforms.batching import defvectorized
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

stage_p = Primitive("stage")
stage_p.def_abstract_eval(lambda x: x)
lowering_rules[stage_p] = lambda ctx, x: x
deflinear(stage_p)
deftranspose_linear(stage_p, lambda ct, x: ct)
defvectorized(stage_p)


def stage(x, /):
    """`x` itself, as a value of the current trace (an Array outside any)."""
    return stage_p.bind(x)
