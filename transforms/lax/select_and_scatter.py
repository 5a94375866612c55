"""select_and_scatter_p, XLA's SelectAndScatter with any computations (JAX's
lax.select_and_scatter_p): in each window of `operand`, `select(a, b)` (true: keep a) picks one
element; `scatter` folds the window's `source` value into the output at that element, every
element starting at `init_value`. Max pooling's gradient is its special case (select = ge,
scatter = add), which windowed.py declares as select_and_scatter_add_p with its derivatives.

As in JAX 0.10.2 the general primitive has no derivative rule of its own: the selection is
piecewise constant, so the tangent in `operand` is zero, and one in `source` or `init_value`
raises (nothing says `scatter` is linear)."""
from __future__ import annotations

from typing import Callable

from spmd.transforms import core
from spmd.transforms.batching import batching_rules, move_or_broadcast
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax.control_flow.common import intern
from spmd.transforms.lax.windowed import (_check_window, _ints, _window_attrs,
                                          reduce_window_shape_tuple)
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.staging import trace_to_jaxpr

select_and_scatter_p = Primitive("select_and_scatter")


def _window(n, window_dimensions, window_strides, padding):
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=(1,) * n, window_dilation=(1,) * n)


def _abstract_eval(operand, source, init_value, *, select_jaxpr, select_consts, scatter_jaxpr,
                   scatter_consts, window_dimensions, window_strides, padding):
    window = _window(operand.ndim, window_dimensions, window_strides, padding)
    _check_window("select_and_scatter", operand.shape, **window)
    want = reduce_window_shape_tuple(operand.shape, **window)
    if source.shape != want:
        raise TypeError(f"select_and_scatter: the source shape {source.shape} must be the shape "
                        f"of the operand's windows {want}")
    if init_value.shape != () or init_value.dtype != source.dtype:
        raise TypeError(f"select_and_scatter: init_value must be a scalar of the source's dtype "
                        f"{source.dtype}, got {init_value.str_short()}")
    return ShapedArray(operand.shape, source.dtype)


select_and_scatter_p.def_abstract_eval(_abstract_eval)


def _lower(ctx, operand, source, init_value, *, select_jaxpr, select_consts, scatter_jaxpr,
           scatter_consts, window_dimensions, window_strides, padding):
    n = ctx.in_avals[0].ndim
    return ctx.op("stablehlo.select_and_scatter", [operand, source, init_value],
                  regions=[ctx.jaxpr_region(select_jaxpr), ctx.jaxpr_region(scatter_jaxpr)],
                  attrs=_window_attrs(**_window(n, window_dimensions, window_strides, padding),
                                      dilations=False))


lowering_rules[select_and_scatter_p] = _lower


def _jvp(primals, tangents, **params):
    if any(type(t) is not Zero for t in tangents[1:]):
        raise NotImplementedError(
            "select_and_scatter with a general scatter computation has no derivative in source "
            "or init_value (JAX defines none either); for max/min pooling gradients "
            "differentiate lax.reduce_window with lax.max/lax.min instead")
    out = select_and_scatter_p.bind(*primals, **params)
    return out, Zero(core.get_aval(out))


jvp_rules[select_and_scatter_p] = _jvp


def _batch(axis, args, dims, *, window_dimensions, window_strides, padding, **params):
    if dims[2] is not None:
        raise NotImplementedError("select_and_scatter with an init_value that varies over a vmap "
                                  "axis is not implemented; pass one init value for every example")
    operand, source = (move_or_broadcast(x, d, 0, axis.size) for x, d in zip(args[:2], dims[:2]))
    out = select_and_scatter_p.bind(
        operand, source, args[2], window_dimensions=(1,) + tuple(window_dimensions),
        window_strides=(1,) + tuple(window_strides), padding=((0, 0),) + tuple(padding),
        **params)
    return out, 0


batching_rules[select_and_scatter_p] = _batch


def _scalar_program(fn: Callable, dtype, who: str):
    aval = ShapedArray((), dtype)
    closed = trace_to_jaxpr(lambda a, b: [fn(a, b)], [aval, aval], core.eval_trace)
    if closed.consts:
        raise TypeError(f"select_and_scatter's {who} computation must not close over arrays: it "
                        "runs on scalars only")
    return intern(closed.jaxpr)


def select_and_scatter(operand, select: Callable, window_dimensions, window_strides, padding,
                       source, init_value, scatter: Callable):
    """Bind select_and_scatter_p (JAX's private lax._select_and_scatter, same argument order):
    `select` and `scatter` take two scalars; padding is (low, high) per dimension."""
    operand_aval, source_aval = core.get_aval(operand), core.get_aval(source)
    n = operand_aval.ndim
    return select_and_scatter_p.bind(
        operand, source, init_value,
        select_jaxpr=_scalar_program(select, operand_aval.dtype, "select"), select_consts=(),
        scatter_jaxpr=_scalar_program(scatter, source_aval.dtype, "scatter"), scatter_consts=(),
        window_dimensions=_ints("select_and_scatter", "window_dimensions", window_dimensions, n),
        window_strides=_ints("select_and_scatter", "window_strides", window_strides, n),
        padding=tuple((int(lo), int(hi)) for lo, hi in padding))
