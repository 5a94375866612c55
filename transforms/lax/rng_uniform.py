"""rng_uniform: XLA's stateful uniform random numbers in [a, b) (stablehlo.rng, UNIFORM), JAX's
`lax.rng_uniform`. The state is the compiler's, not a key: results are not reproducible, and
JAX discourages it in favour of jax.random; programs that call it still run.

Not differentiable (as in JAX). Under vmap, float bounds that vary along the mapped axis scale
one draw of [0, 1) per element; integer bounds must not vary (XLA draws from one range)."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import lowering_rules


# XLA's CPU compiler aborts the process on the rng of other integer widths and of booleans
_INTEGERS = {np.dtype(t) for t in (np.int32, np.int64, np.uint32, np.uint64)}


def _rng_uniform_aval(a, b, *, shape):
    if a.dtype != b.dtype:
        raise ValueError(f"Arguments to rng_uniform must have identical dtypes, got {a.dtype} "
                         f"and {b.dtype}")
    if a.shape != () or b.shape != ():
        raise ValueError(f"Arguments to rng_uniform must be scalars; got shapes {a.shape} and "
                         f"{b.shape}")
    if not (dtypes.is_float(a.dtype) or a.dtype in _INTEGERS):
        raise TypeError(f"rng_uniform draws floats or 32/64-bit integers, not {a.dtype}; draw "
                        f"int32 and convert")
    return ShapedArray(shape, a.dtype, a.weak_type and b.weak_type)


def _rng_uniform_lowering(ctx, a, b, *, shape):
    dims = ShapedArray((len(shape),), np.dtype(np.int64))
    sizes = ctx.constant(np.asarray(shape, np.int64), dims)
    return ctx.op("stablehlo.rng", [a, b, sizes], operand_avals=ctx.in_avals + [dims],
                  attrs="rng_distribution = #stablehlo<rng_distribution UNIFORM>")


def _rng_uniform_jvp(primals, tangents, *, shape):
    if any(type(t) is not Zero for t in tangents):
        raise TypeError("rng_uniform is not differentiable (nor is it in JAX); draw with "
                        "spmd.random.uniform(key, shape, minval=a, maxval=b), which is")
    out = rng_uniform_p.bind(*primals, shape=shape)
    return out, Zero(core.get_aval(out))


def _rng_uniform_batch(axis, args, dims, *, shape):
    (a, b), dtype = args, core.get_aval(args[0]).dtype
    if not dtypes.is_float(dtype):
        raise NotImplementedError(f"vmap of rng_uniform with {dtype} bounds that vary along the "
                                  f"mapped axis: XLA draws from one range; draw floats and "
                                  f"convert, or use spmd.random.randint")
    out_shape = (axis.size,) + tuple(shape)
    unit = rng_uniform_p.bind(ew.full((), 0, dtype), ew.full((), 1, dtype), shape=out_shape)
    spread = lambda x, d: broadcast_in_dim(  # noqa: E731
        x if d is not None else broadcast_in_dim(x, (axis.size,), ()), out_shape, (0,))
    low, high = spread(a, dims[0]), spread(b, dims[1])
    return ew.add(low, ew.mul(ew.sub(high, low), unit)), 0


rng_uniform_p = Primitive("rng_uniform")
rng_uniform_p.def_abstract_eval(_rng_uniform_aval)
lowering_rules[rng_uniform_p] = _rng_uniform_lowering
jvp_rules[rng_uniform_p] = _rng_uniform_jvp
batching_rules[rng_uniform_p] = _rng_uniform_batch


def rng_uniform(a, b, shape):
    """Uniform random numbers in [a, b) of the scalars' dtype and the given shape, from XLA's
    own generator state (results are undefined when b <= a)."""
    return rng_uniform_p.bind(a, b, shape=tuple(int(d) for d in shape))
