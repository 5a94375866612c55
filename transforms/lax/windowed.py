"""reduce_window: reductions over sliding windows (pooling), and the two select-and-* primitives
that carry max/min pooling's derivatives.

Every primitive here takes the same window parameters: `window_dimensions`, `window_strides`,
`padding` ((low, high) per dimension), `base_dilation` and `window_dilation`, one entry per
dimension of the operand (as XLA's ReduceWindow). Batching adds a window of size 1 over the
batch axis, so one rule serves all of them.

- reduce_window_sum: linear; its transpose spreads the cotangent back over the windows (pad it
  with the strides as interior padding, then sum windows of the same shape).
- reduce_window_max / _min: the tangent of the chosen element of each window
  (select_and_gather_add, a variadic reduce_window over (value, tangent) pairs), whose transpose
  scatters each cotangent to the chosen element (select_and_scatter_add, XLA's SelectAndScatter).
- reduce_window: any scalar computation and init values, over one or several operands."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, tree_util
from spmd.transforms.batching import batching_rules, move_or_broadcast
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, defjvp, deflinear, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import scalar_region
from spmd.transforms.lax.convolution import _dilate, _lhs_transpose_padding, padtype_to_pads
from spmd.transforms.lax.reductions import _HLO, _identity
from spmd.transforms.lax.slicing import pad
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.staging import trace_to_jaxpr
from spmd.transforms.transpose import deftranspose_linear, transpose_rules

_WINDOW = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


# ---------------------------------------------------------------- shapes
def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    """The output shape of a reduce_window over an operand of `operand_shape`."""
    n = len(operand_shape)
    base = _dilate(operand_shape, base_dilation or (1,) * n)
    window = _dilate(window_dimensions, window_dilation or (1,) * n)
    padded = [b + lo + hi for b, (lo, hi) in zip(base, padding)]
    return tuple(max(0, (p - w) // s + 1) if p >= w else 0
                 for p, w, s in zip(padded, window, window_strides))


def _check_window(who, shape, *, window_dimensions, window_strides, padding, base_dilation,
                  window_dilation):
    n = len(shape)
    for what, values in [("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("padding", padding),
                         ("base_dilation", base_dilation), ("window_dilation", window_dilation)]:
        if len(values) != n:
            raise TypeError(f"{who}: {what} {tuple(values)} must have one entry per dimension "
                            f"of the operand (shape {tuple(shape)})")
        if what != "padding" and any(v < 1 for v in values):
            raise TypeError(f"{who}: {what} {tuple(values)} must be positive")


def _window_aval(who):
    def rule(x, **window):
        _check_window(who, x.shape, **window)
        return ShapedArray(reduce_window_shape_tuple(x.shape, **window), x.dtype, x.weak_type)
    return rule


def _window_attrs(window_dimensions, window_strides, padding, base_dilation, window_dilation,
                  dilations=True):
    attrs = [f"window_dimensions = {i64_array(window_dimensions)}",
             f"window_strides = {i64_array(window_strides)}"]
    if dilations:
        attrs += [f"base_dilations = {i64_array(base_dilation)}",
                  f"window_dilations = {i64_array(window_dilation)}"]
    if padding:  # a rank-0 operand has no padding to write
        pairs = ", ".join(f"[{lo}, {hi}]" for lo, hi in padding)
        attrs.append(f"padding = dense<[{pairs}]> : tensor<{len(padding)}x2xi64>")
    return ", ".join(attrs)


def _batched_window(d, window):
    """The window parameters with a size-1 window over a new axis `d` (the batch axis)."""
    def add(values, value):
        values = list(values)
        values.insert(d, value)
        return tuple(values)
    return dict(window_dimensions=add(window["window_dimensions"], 1),
                window_strides=add(window["window_strides"], 1),
                padding=add(window["padding"], (0, 0)),
                base_dilation=add(window["base_dilation"], 1),
                window_dilation=add(window["window_dilation"], 1))


def _window_batch(prim):
    """Every operand's batch axis to the front (broadcast where unbatched), windows of 1 there."""
    def rule(axis, args, dims, **params):
        args = [move_or_broadcast(x, d, 0, axis.size) for x, d in zip(args, dims)]
        window = _batched_window(0, {k: params[k] for k in _WINDOW})
        return prim.bind(*args, **{**params, **window}), 0
    return rule


# ---------------------------------------------------------------- monoid reductions
def _monoid_lowering(kind):
    def lower(ctx, x, **window):
        aval = ctx.in_avals[0]
        op = _HLO[kind]
        if aval.dtype == np.bool_:
            op = "stablehlo.or" if kind in ("sum", "max") else "stablehlo.and"
        scalar = ShapedArray((), aval.dtype)
        init = ctx.constant(_identity(kind, aval.dtype), scalar)
        return ctx.op("stablehlo.reduce_window", [x, init], regions=[
            ctx.scalar_reducer(aval.dtype, op)], attrs=_window_attrs(**window),
            operand_avals=[aval, scalar])
    return lower


def _declare(kind) -> Primitive:
    prim = Primitive(f"reduce_window_{kind}")
    prim.def_abstract_eval(_window_aval(f"reduce_window_{kind}"))
    lowering_rules[prim] = _monoid_lowering(kind)
    batching_rules[prim] = _window_batch(prim)
    return prim


reduce_window_sum_p = _declare("sum")
reduce_window_max_p = _declare("max")
reduce_window_min_p = _declare("min")
deflinear(reduce_window_sum_p)


def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    in_shape = x.aval.shape
    ct_shape = core.get_aval(ct).shape
    pads = _lhs_transpose_padding(in_shape, window_dimensions, window_strides, ct_shape, padding,
                                  base_dilation, window_dilation)
    zero = ew.convert_element_type(np.zeros((), x.aval.dtype), x.aval.dtype)
    spread = pad(ct, zero, [(lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides)])
    return reduce_window_sum_p.bind(
        spread, window_dimensions=window_dimensions, window_strides=base_dilation,
        padding=((0, 0),) * len(in_shape), base_dilation=(1,) * len(in_shape),
        window_dilation=window_dilation)


deftranspose_linear(reduce_window_sum_p, _reduce_window_sum_transpose)


# ---------------------------------------------------------------- max/min derivatives
def _check_pair(t, x, *, select, **window):
    if t.shape != x.shape:
        raise TypeError(f"select_and_gather_add: the tangent shape {t.shape} must match the "
                        f"operand shape {x.shape}")
    return _window_aval("select_and_gather_add")(t, **window)


def _chooses(select):
    """The region's test: does the first (value) of two pairs win under `select`?"""
    return ew.ge if select == "ge" else ew.le


def _gather_lowering(ctx, t, x, *, select, **window):
    t_aval, x_aval = ctx.in_avals
    scalar_t, scalar_x = ShapedArray((), t_aval.dtype), ShapedArray((), x_aval.dtype)
    test = _chooses(select)

    def pick(xa, ta, xb, tb):
        first = test(xa, xb)
        return [ew.select(first, xa, xb), ew.select(first, ta, tb)]
    region = scalar_region(ctx, pick, [scalar_x, scalar_t, scalar_x, scalar_t])
    init_x = ctx.constant(_identity("max" if select == "ge" else "min", x_aval.dtype), scalar_x)
    init_t = ctx.constant(np.zeros((), t_aval.dtype), scalar_t)
    out = ShapedArray(ctx.out_avals[0].shape, x_aval.dtype)
    _, result = ctx.op("stablehlo.reduce_window", [x, t, init_x, init_t],
                       out_avals=[out, ctx.out_avals[0]], regions=[region],
                       attrs=_window_attrs(**window),
                       operand_avals=[x_aval, t_aval, scalar_x, scalar_t])
    return result


def _no_dilation(who, base_dilation, window_dilation):
    if any(d != 1 for d in base_dilation) or any(d != 1 for d in window_dilation):
        raise NotImplementedError(
            f"{who}: reverse-mode derivatives of max/min reduce_window with base or window "
            f"dilation are not implemented (got base_dilation={tuple(base_dilation)}, "
            f"window_dilation={tuple(window_dilation)}); use forward mode (jvp/jacfwd), or no "
            "dilation")


def _gather_transpose(ct, t, x, *, select, window_dimensions, window_strides, padding,
                      base_dilation, window_dilation):
    _no_dilation("select_and_gather_add", base_dilation, window_dilation)
    return [select_and_scatter_add_p.bind(
        ct, x, select=select, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding), None]


def _linear_in_first(name, abstract_eval, lowering, transpose, batching):
    """select_and_gather_add and select_and_scatter_add: linear in their first operand (the
    tangents, the cotangents) and each the other's transpose; the second (the operand whose
    maxima choose) is known and carries no derivative."""
    prim = Primitive(name)
    prim.def_abstract_eval(abstract_eval)
    lowering_rules[prim] = lowering
    defjvp(prim, lambda t, first, x, **p: prim.bind(t, x, **p), None)
    transpose_rules[prim] = transpose
    linear_primitives.add(prim)
    batching_rules[prim] = batching
    return prim


select_and_gather_add_p = _linear_in_first(
    "select_and_gather_add", _check_pair, _gather_lowering, _gather_transpose,
    lambda *a, **p: _window_batch(select_and_gather_add_p)(*a, **p))


def _scatter_aval(source, x, *, select, window_dimensions, window_strides, padding):
    n = x.ndim
    window = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                  padding=padding, base_dilation=(1,) * n, window_dilation=(1,) * n)
    _check_window("select_and_scatter_add", x.shape, **window)
    want = reduce_window_shape_tuple(x.shape, **window)
    if source.shape != want:
        raise TypeError(f"select_and_scatter_add: the source shape {source.shape} must be the "
                        f"windows' shape {want}")
    return ShapedArray(x.shape, source.dtype, source.weak_type)


def _scatter_lowering(ctx, source, x, *, select, window_dimensions, window_strides, padding):
    s_aval, x_aval = ctx.in_avals
    scalar_s, scalar_x = ShapedArray((), s_aval.dtype), ShapedArray((), x_aval.dtype)
    test = _chooses(select)
    choose = scalar_region(ctx, lambda a, b: [test(a, b)], [scalar_x, scalar_x])
    add = ctx.scalar_reducer(s_aval.dtype, "stablehlo.add")
    init = ctx.constant(np.zeros((), s_aval.dtype), scalar_s)
    n = x_aval.ndim
    return ctx.op("stablehlo.select_and_scatter", [x, source, init], regions=[choose, add],
                  attrs=_window_attrs(window_dimensions, window_strides, padding, (1,) * n,
                                      (1,) * n, dilations=False),
                  operand_avals=[x_aval, s_aval, scalar_s])


def _scatter_transpose(ct, source, x, *, select, window_dimensions, window_strides, padding):
    n = len(window_dimensions)
    return [select_and_gather_add_p.bind(
        ct, x, select=select, window_dimensions=window_dimensions, window_strides=window_strides,
        padding=padding, base_dilation=(1,) * n, window_dilation=(1,) * n), None]


def _scatter_batch(axis, args, dims, *, select, window_dimensions, window_strides, padding):
    args = [move_or_broadcast(v, d, 0, axis.size) for v, d in zip(args, dims)]
    return select_and_scatter_add_p.bind(
        *args, select=select, window_dimensions=(1,) + tuple(window_dimensions),
        window_strides=(1,) + tuple(window_strides), padding=((0, 0),) + tuple(padding)), 0


select_and_scatter_add_p = _linear_in_first(
    "select_and_scatter_add", _scatter_aval, _scatter_lowering, _scatter_transpose,
    _scatter_batch)


def _chooser_jvp(prim, select):
    def rule(primals, tangents, **window):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **window)
        if type(t) is Zero:
            return out, Zero(core.get_aval(out))
        return out, select_and_gather_add_p.bind(t, x, select=select, **window)
    jvp_rules[prim] = rule


_chooser_jvp(reduce_window_max_p, "ge")
_chooser_jvp(reduce_window_min_p, "le")


# ---------------------------------------------------------------- any computation
def _generic_aval(*args, jaxpr, **window):
    n = len(args) // 2
    operands, inits = args[:n], args[n:]
    for x in operands:
        _check_window("reduce_window", x.shape, **window)
        if x.shape != operands[0].shape:
            raise TypeError(f"reduce_window: operands must have one shape, got "
                            f"{[o.shape for o in operands]}")
    for x, init in zip(operands, inits):
        if init.shape != () or init.dtype != x.dtype:
            raise TypeError(f"reduce_window: each init value must be a scalar of its operand's "
                            f"dtype {x.dtype}, got shape {init.shape} dtype {init.dtype}")
    shape = reduce_window_shape_tuple(operands[0].shape, **window)
    return [ShapedArray(shape, x.dtype) for x in operands]


def _generic_lowering(ctx, *args, jaxpr, **window):
    outs = ctx.op("stablehlo.reduce_window", list(args), regions=[ctx.jaxpr_region(jaxpr)],
                  attrs=_window_attrs(**window))
    return outs if len(ctx.out_avals) > 1 else [outs]


def _generic_jvp(primals, tangents, *, jaxpr, **window):
    raise NotImplementedError(
        "differentiating reduce_window with a general computation is not implemented; "
        "max, min and sum windows (lax.max/lax.min/lax.add with their identity as init value) "
        "are differentiable")


def operands_at_front(who, axis, args, dims) -> list:
    """The operands (the first half of `args`, the init values being the second) of a
    reduction under vmap, each with the batch axis in front; the init values must be shared."""
    n = len(args) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError(f"{who} with init values that vary over a vmap axis is not "
                                  "implemented; pass the same init value for every example")
    return [move_or_broadcast(x, d, 0, axis.size) for x, d in zip(args[:n], dims[:n])]


def _generic_batch(axis, args, dims, *, jaxpr, **window):
    operands = operands_at_front("reduce_window", axis, args, dims)
    outs = reduce_window_p.bind(*operands, *args[len(operands):], jaxpr=jaxpr,
                                **_batched_window(0, window))
    return outs, [0] * len(operands)


reduce_window_p = Primitive("reduce_window", multiple_results=True)
reduce_window_p.def_abstract_eval(_generic_aval)
lowering_rules[reduce_window_p] = _generic_lowering
jvp_rules[reduce_window_p] = _generic_jvp
batching_rules[reduce_window_p] = _generic_batch


# ---------------------------------------------------------------- the wrapper
def _ints(who, what, values, n):
    if values is None:
        return (1,) * n
    out = tuple(int(v) for v in values)
    if len(out) != n:
        raise TypeError(f"{who}: {what} {out} must have one entry per dimension of the operand "
                        f"(rank {n})")
    return out


def _window_params(shape, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    n = len(shape)
    window_dimensions = _ints("reduce_window", "window_dimensions", window_dimensions, n)
    window_strides = _ints("reduce_window", "window_strides", window_strides, n)
    base_dilation = _ints("reduce_window", "base_dilation", base_dilation, n)
    window_dilation = _ints("reduce_window", "window_dilation", window_dilation, n)
    if isinstance(padding, str) or hasattr(padding, "name"):
        padding = padtype_to_pads(_dilate(shape, base_dilation),
                                  _dilate(window_dimensions, window_dilation), window_strides,
                                  padding)
    try:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"reduce_window: padding must be 'SAME', 'VALID' or a sequence of "
                        f"(low, high) pairs, got {padding!r}") from None
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


_MONOIDS = {ew.add: (reduce_window_sum_p, "sum"), ew.max: (reduce_window_max_p, "max"),
            ew.min: (reduce_window_min_p, "min")}


def _monoid(computation, operands, init_values):
    """The primitive for a single-operand window whose computation is add/max/min and whose
    init value is that computation's identity (known now): those are differentiable."""
    if len(operands) != 1 or computation not in _MONOIDS:
        return None
    prim, kind = _MONOIDS[computation]
    try:
        init = np.asarray(init_values[0])
    except Exception:  # a traced init value: not known to be the identity
        return None
    dtype = core.get_aval(operands[0]).dtype
    if init.shape == () and init.astype(dtype) == _identity(kind, dtype):
        return prim
    return None


def reduce_window(operand, init_value, computation, window_dimensions, window_strides, padding,
                  base_dilation=None, window_dilation=None):
    """Reduce each window of `operand` (an array or a tuple of arrays) with `computation`,
    starting from `init_value` (lax.reduce_window)."""
    operands, tree = tree_util.tree_flatten(operand)
    inits, init_tree = tree_util.tree_flatten(init_value)
    if tree != init_tree:
        raise TypeError(f"reduce_window: operand and init_value must have one structure, got "
                        f"{tree} and {init_tree}")
    shape = core.get_aval(operands[0]).shape
    window = _window_params(shape, window_dimensions, window_strides, padding, base_dilation,
                            window_dilation)
    prim = _monoid(computation, operands, inits)
    if prim is not None:
        return tree_util.tree_unflatten(tree, [prim.bind(operands[0], **window)])
    avals = [ShapedArray((), core.get_aval(x).dtype) for x in operands]
    inits = [ew.convert_element_type(v, a.dtype) for v, a in zip(inits, avals)]

    def flat(*scalars):
        a, b = scalars[:len(avals)], scalars[len(avals):]
        out = computation(tree_util.tree_unflatten(tree, list(a)),
                          tree_util.tree_unflatten(tree, list(b)))
        return tree_util.tree_leaves(out)
    closed = trace_to_jaxpr(flat, avals + avals, core.eval_trace)
    if closed.consts:
        raise TypeError("reduce_window's computation must not close over arrays: it runs on "
                        "scalars only")
    outs = reduce_window_p.bind(*operands, *inits, jaxpr=closed.jaxpr, **window)
    return tree_util.tree_unflatten(tree, outs)
