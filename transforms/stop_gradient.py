"""stop_gradient: the identity whose derivative is zero.

A primitive (not a Python-level trick) so that it survives staging: `jit(grad(f))` and
`grad(jit(f))` both see it. Its JVP drops the tangent; it is never linear, so it needs no
transpose rule; under vmap the batch axis passes through.
"""
from __future__ import annotations

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.batching import defvectorized
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lowering import lowering_rules

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_abstract_eval(lambda x: x)
lowering_rules[stop_gradient_p] = lambda ctx, x: x
defjvp_zero(stop_gradient_p)
defvectorized(stop_gradient_p)


def _stop_leaf(x):
    # Concrete values are constants of every trace, and integers carry no tangent: only inexact
    # traced values need the primitive. Other leaves (functions, strings) pass through.
    if isinstance(x, core.Tracer) and dtypes.is_inexact(x.aval.dtype):
        return stop_gradient_p.bind(x)
    return x


def stop_gradient(x):
    """`x` unchanged, but treated as a constant by differentiation (leafwise over a pytree)."""
    return tree_util.tree_map(_stop_leaf, x)
