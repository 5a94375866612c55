"""Primitives that return their operand unchanged, kept as equations for what they mark:
`stage_p` (lax.stage: lift a Python or NumPy value into the current trace; outside any trace
it returns an Array) and `copy_p` (JAX's primitive for an explicit copy of an array). Both are
linear and elementwise; XLA gives each result its own buffer."""
from __future__ import annotations

from spmd.transforms.batching import defvectorized
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear


def _identity_primitive(name: str) -> Primitive:
    prim = Primitive(name)
    prim.def_abstract_eval(lambda x: x)
    lowering_rules[prim] = lambda ctx, x: x
    deflinear(prim)
    deftranspose_linear(prim, lambda ct, x: ct)
    defvectorized(prim)
    return prim


stage_p = _identity_primitive("stage")
copy_p = _identity_primitive("copy")


def stage(x, /):
    """`x` itself, as a value of the current trace (an Array outside any)."""
    return stage_p.bind(x)
