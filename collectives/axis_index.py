"""axis_index: the position of this participant along a named axis (int32).

Under pmap it lowers to arithmetic on the replica id (the replica grid has one dimension per
pmap axis, see axes.py); under `vmap(axis_name=...)` it is an iota over the batch.
"""
from __future__ import annotations

import numpy as np

from spmd.collectives.axes import axis_size, canonical_names, check_pure_names, replica_axes
from spmd.transforms import batching, lax
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lowering import lowering_rules

axis_index_p = Primitive("axis_index")


# ---------------------------------------------------------------- public function
def axis_index(axis_name):
    """This participant's index along the named axis, as an int32 scalar. Over a tuple of names
    it is the linear index over them, the first name slowest (as in JAX)."""
    names = canonical_names(axis_name)
    check_pure_names(names, "axis_index")
    index, stride = None, 1
    for name in reversed(names):
        size = axis_size((name,))  # raises for an unbound name
        term = axis_index_p.bind(axis_name=name)
        if stride != 1:
            term = lax.mul(term, np.int32(stride))
        index = term if index is None else lax.add(index, term)
        stride *= size
    return index


# ---------------------------------------------------------------- lowering
_I32, _U32 = ShapedArray((), np.int32), ShapedArray((), np.uint32)


def _axis_index_lowering(ctx, *, axis_name):
    axes = replica_axes(ctx, "axis_index")
    stride, size = axes.index_stride(axis_name)
    rid = ctx.op(axes.id_op, [], out_avals=[_U32], operand_avals=[])
    index = ctx.typed("stablehlo.convert", [rid], [_U32], _I32)
    if stride > 1:
        divisor = ctx.constant(np.int32(stride), _I32)
        index = ctx.typed("stablehlo.divide", [index, divisor], [_I32, _I32], _I32)
    if stride * size < axes.num_replicas:  # an outer axis varies too
        modulus = ctx.constant(np.int32(size), _I32)
        index = ctx.typed("stablehlo.remainder", [index, modulus], [_I32, _I32], _I32)
    return index


# ---------------------------------------------------------------- batching
def _axis_index_batch(frame, args, dims, *, axis_name):
    return lax.iota(np.int32, frame.size), 0


# ---------------------------------------------------------------- registration
axis_index_p.def_abstract_eval(lambda *, axis_name: _I32)
lowering_rules[axis_index_p] = _axis_index_lowering
defjvp_zero(axis_index_p)
batching_rules[axis_index_p] = _axis_index_batch
batching.axis_primitives[axis_index_p] = lambda params: (params["axis_name"],)
