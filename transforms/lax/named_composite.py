"""lax.composite: a function marked as one named operation (JAX's `composite` primitive), whose
meaning is its decomposition, so that a compiler that knows the name may emit one instruction.

XLA's CPU and GPU compilers know no composites and inline the decomposition; spmd lowers it
inline directly (its programs are one function, and StableHLO's `composite` op needs a called
function), which is what those compilers run. As in JAX 0.10.2 a composite has no derivative
(wrap it in custom_jvp/custom_vjp); under vmap its decomposition is batched and stays one
composite."""
from __future__ import annotations

import functools

import numpy as np

from spmd.transforms import core, lowering, tree_util
from spmd.transforms.batching import batching_rules, moveaxis
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import jvp_rules
from spmd.transforms.lax.control_flow.subprograms import batch_program
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.staging import closed_as_open, trace_to_jaxpr


def _composite_batch(axis, args, dims, *, jaxpr, **params):
    args = [x if d is None else moveaxis(x, d, 0) for x, d in zip(args, dims)]
    n_out = len(jaxpr.outvars)
    program, consts, _ = batch_program(jaxpr, axis.name, axis.size, axis.kind,
                                       tuple(d is not None for d in dims), (True,) * n_out)
    return composite_p.bind(*consts, *args, jaxpr=program, **params), [0] * n_out


def _no_jvp(primals, tangents, *, name, **params):
    raise ValueError(f"JVP rule for composite not implemented (composite {name!r}): wrap the "
                     "composite in spmd.custom_jvp or spmd.custom_vjp to differentiate it")


composite_p = Primitive("composite", multiple_results=True)
composite_p.def_abstract_eval(lambda *avals, jaxpr, **params: jaxpr.out_avals)
lowering_rules[composite_p] = lambda ctx, *args, jaxpr, **params: lowering.lower_jaxpr(
    ctx, jaxpr, [], list(args))
jvp_rules[composite_p] = _no_jvp
batching_rules[composite_p] = _composite_batch


def _hashable(leaf):
    """A composite's attributes are primitive params, which must hash: arrays by content."""
    if isinstance(leaf, np.ndarray):
        return (leaf.dtype.str, leaf.shape, leaf.tobytes())
    return leaf


def composite(decomposition, name: str, version: int = 0):
    """`decomposition` as one operation named `name`: called with arrays (pytrees) as positional
    arguments and static attributes (Python or NumPy values) as keyword arguments."""
    @functools.wraps(decomposition)
    def call(*args, **kwargs):
        if any(isinstance(leaf, core.Tracer) for leaf in tree_util.tree_leaves(kwargs)):
            raise TypeError(f"composite {name!r}: keyword arguments are the composite's static "
                            f"attributes and must be Python or NumPy values, but one is a traced "
                            f"array; pass values that vary as positional arguments")
        flat, in_tree = tree_util.tree_flatten(args)
        out_tree = []

        def flat_fun(*xs):
            outs, tree = tree_util.tree_flatten(
                decomposition(*tree_util.tree_unflatten(in_tree, xs), **kwargs))
            out_tree.append(tree)
            return outs
        closed = trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in flat], core.eval_trace)
        jaxpr, consts = closed_as_open(closed)
        attributes = tuple((k, tuple(_hashable(v) for v in tree_util.tree_leaves(kwargs[k])))
                           for k in kwargs)
        outs = composite_p.bind(*consts, *flat, jaxpr=jaxpr, name=str(name),
                                attributes=attributes, version=int(version))
        return tree_util.tree_unflatten(out_tree[0], outs)
    return call
