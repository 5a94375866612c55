"""bitcast_convert_type: reinterpret the bits of each element as another dtype (lax's
bitcast_convert_type). Equal widths keep the shape; a narrower target adds a trailing axis of
width ratio, a wider one consumes it, as in XLA and JAX. Bits carry no tangent."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp_zero
from spmd.transforms.lowering import lowering_rules


def _bits(dtype) -> int:
    return np.dtype(dtype).itemsize * 8


def _bitcast_aval(x, *, new_dtype):
    if x.dtype == np.bool_ or np.dtype(new_dtype) == np.bool_:
        raise TypeError("bitcast_convert_type does not convert to or from bool; compare with "
                        "zero (lax.ne) or convert with lax.convert_element_type instead")
    old, new = _bits(x.dtype), _bits(new_dtype)
    if old == new:
        shape = x.shape
    elif old > new:
        shape = x.shape + (old // new,)
    else:
        if not x.shape or x.shape[-1] != new // old:
            raise TypeError(f"bitcast_convert_type from {x.dtype} to {np.dtype(new_dtype)} needs "
                            f"a trailing axis of size {new // old} to combine, but the operand "
                            f"has shape {x.shape}")
        shape = x.shape[:-1]
    return ShapedArray(shape, new_dtype)


def _bitcast_batch(axis, args, dims, *, new_dtype):
    (x,), (d,) = args, dims
    if _bits(core.get_aval(x).dtype) == _bits(new_dtype):
        return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d
    # the trailing axis is the one that changes: keep the batch axis away from it
    return bitcast_convert_type_p.bind(bdim_at_front(x, d, axis.size), new_dtype=new_dtype), 0


bitcast_convert_type_p = Primitive("bitcast_convert_type")
bitcast_convert_type_p.def_abstract_eval(_bitcast_aval)
lowering_rules[bitcast_convert_type_p] = lambda ctx, x, *, new_dtype: ctx.op(
    "stablehlo.bitcast_convert", [x])
defjvp_zero(bitcast_convert_type_p)
batching_rules[bitcast_convert_type_p] = _bitcast_batch


def bitcast_convert_type(x, new_dtype):
    """The elements of `x` with their bits read as `new_dtype`."""
    return bitcast_convert_type_p.bind(x, new_dtype=dtypes.canonicalize(new_dtype))
