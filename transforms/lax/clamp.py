"""clamp: min(max(x, lo), hi) as one primitive (JAX's `clamp_p`, XLA's clamp), each bound a
scalar or of x's shape.

Its derivative is JAX's, not max's and min's (which split ties): the operand's tangent where it
lies strictly inside (lo, hi), a bound's where the operand is beyond it (lo's only while
lo < hi), nothing at a tie."""
from __future__ import annotations

from spmd.transforms import core
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.elementwise import FLOAT, INT, UINT, elementwise_aval
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import lowering_rules


def _clamp_aval(lo, x, hi):
    for name, b in (("min", lo), ("max", hi)):
        if b.shape not in ((), x.shape):
            raise TypeError(f"clamp requires {name}.shape == operand.shape or {name}.shape == "
                            f"(), got {name}.shape={b.shape} and operand.shape={x.shape}")
    # dtypes and kinds as any elementwise op (complex numbers have no order)
    scalar = ShapedArray((), x.dtype, x.weak_type)
    elementwise_aval("clamp", (FLOAT, INT, UINT),
                     [scalar, scalar.update(dtype=lo.dtype), scalar.update(dtype=hi.dtype)])
    return ShapedArray(x.shape, x.dtype, x.weak_type and lo.weak_type and hi.weak_type)


def _where(pred, t, x):
    """`t` (broadcast to x's shape) where `pred`, zero elsewhere."""
    shape = core.get_aval(x).shape
    if core.get_aval(t).shape != shape:
        t = broadcast_in_dim(t, shape, ())
    aval = core.get_aval(t)
    return ew.select(pred, t, ew.full(shape, 0, aval.dtype))


def _full(b, x):
    shape = core.get_aval(x).shape
    return b if core.get_aval(b).shape == shape else broadcast_in_dim(b, shape, ())


def _lo_tangent(t, lo, x, hi):
    lo, hi = _full(lo, x), _full(hi, x)
    return _where(ew.bitwise_and(ew.gt(lo, x), ew.lt(lo, hi)), t, x)


def _x_tangent(t, lo, x, hi):
    return _where(ew.bitwise_and(ew.gt(x, _full(lo, x)), ew.lt(x, _full(hi, x))), t, x)


def _hi_tangent(t, lo, x, hi):
    return _where(ew.lt(_full(hi, x), x), t, x)


def _clamp_batch(axis, args, dims):
    """Every operand batched in front; a bound that is a scalar per example is spread over the
    operand's shape (one that is not batched may stay a scalar)."""
    lo, x, hi = args
    per_example = core.get_aval(x).shape if dims[1] is None else \
        tuple(s for i, s in enumerate(core.get_aval(x).shape) if i != dims[1])
    full_shape = (axis.size,) + per_example
    x = bdim_at_front(x, dims[1], axis.size)

    def bound(b, d):
        if d is None and core.get_aval(b).shape == ():
            return b
        b = bdim_at_front(b, d, axis.size)
        if core.get_aval(b).shape != full_shape:
            b = broadcast_in_dim(b, full_shape, (0,))
        return b
    return clamp_p.bind(bound(lo, dims[0]), x, bound(hi, dims[2])), 0


clamp_p = Primitive("clamp")
clamp_p.def_abstract_eval(_clamp_aval)
lowering_rules[clamp_p] = lambda ctx, lo, x, hi: ctx.op("stablehlo.clamp", [lo, x, hi])
defjvp(clamp_p, _lo_tangent, _x_tangent, _hi_tangent)
batching_rules[clamp_p] = _clamp_batch


def clamp(lo, x, hi):
    """min(max(x, lo), hi), where each bound is a scalar or has x's shape (lax.clamp)."""
    return clamp_p.bind(lo, x, hi)
