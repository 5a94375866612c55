"""conv_general_dilated: the one convolution primitive, and the helpers JAX programs import with
it (dimension numbers, padding strings, output shapes).

Dimension numbers say where each role sits: `lhs_spec = (batch, feature, *spatial)`,
`rhs_spec = (out feature, in feature, *spatial)`, `out_spec = (batch, feature, *spatial)`, the
spatial dimensions of all three paired in the kernel's order (as in XLA and JAX). The
convolution is bilinear, so its JVP is two convolutions and each operand's transpose is one more:
the cotangent convolved with the reversed kernel (lhs), or the input convolved with the cotangent
(rhs), with strides and dilations exchanged."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp, linear_primitives
from spmd.transforms.lax.elementwise import convert_element_type
from spmd.transforms.lax.slicing import rev
from spmd.transforms.lax.structural import reshape, transpose
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


class ConvDimensionNumbers(NamedTuple):
    """Positions of (batch, feature, *spatial) in lhs and out, (out feature, in feature,
    *spatial) in rhs."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


# ---------------------------------------------------------------- helpers programs import
def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """(low, high) padding per spatial dimension for 'VALID', 'SAME' or 'SAME_LOWER'."""
    name = getattr(padding, "name", padding)
    if not isinstance(name, str) or name.upper() not in ("VALID", "SAME", "SAME_LOWER"):
        raise ValueError(f"unknown padding {padding!r}: use 'VALID', 'SAME', 'SAME_LOWER' or a "
                         "sequence of (low, high) pairs")
    name = name.upper()
    if name == "VALID":
        return [(0, 0)] * len(in_shape)
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        total = max(0, (-(-n // s) - 1) * s + k - n)
        low = total // 2 if name == "SAME" else (total + 1) // 2
        pads.append((low, total - low))
    return pads


def _spec_from_letters(letters: str, roles: str, kernel: str, who: str):
    if len(set(letters)) != len(letters) or not set(roles) <= set(letters):
        raise TypeError(f"{who}: the {who_of(roles)} spec {letters!r} must name each dimension "
                        f"once and contain {roles[0]!r} and {roles[1]!r}")
    spatial = [i for i, c in enumerate(letters) if c not in roles]
    if sorted(letters[i] for i in spatial) != sorted(c for c in kernel if c not in "OI"):
        raise TypeError(f"{who}: the spatial dimensions of {letters!r} and the kernel spec "
                        f"{kernel!r} must have the same letters")
    spatial.sort(key=lambda i: kernel.index(letters[i]))
    return (letters.index(roles[0]), letters.index(roles[1])) + tuple(spatial)


def who_of(roles):
    return "kernel" if roles == "OI" else "input/output"


def conv_general_permutations(dimension_numbers):
    """Strings like ('NCHW', 'OIHW', 'NCHW') as the position tuples of ConvDimensionNumbers."""
    lhs, rhs, out = dimension_numbers
    if not len(lhs) == len(rhs) == len(out):
        raise TypeError(f"conv dimension_numbers {dimension_numbers!r} must be three strings of "
                        "one length (the operands' rank)")
    return (_spec_from_letters(lhs, "NC", rhs, "conv_general_dilated"),
            _spec_from_letters(rhs, "OI", rhs, "conv_general_dilated"),
            _spec_from_letters(out, "NC", rhs, "conv_general_dilated"))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """ConvDimensionNumbers from None (NC..., OI..., NC...), strings, or ConvDimensionNumbers."""
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"convolution needs operands of one rank, got lhs shape {tuple(lhs_shape)} "
                        f"and rhs shape {tuple(rhs_shape)}")
    if len(lhs_shape) < 2:
        raise TypeError(f"convolution needs operands of rank 2 or more (batch and feature "
                        f"dimensions), got shape {tuple(lhs_shape)}")
    if dimension_numbers is None:
        default = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(default, default, default)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        specs = dimension_numbers
    elif len(dimension_numbers) == 3 and all(isinstance(s, str) for s in dimension_numbers):
        if any(len(s) != len(lhs_shape) for s in dimension_numbers):
            raise TypeError(f"conv dimension_numbers {tuple(dimension_numbers)!r} must have one "
                            f"letter per dimension of the operands (rank {len(lhs_shape)})")
        specs = conv_general_permutations(dimension_numbers)
    else:
        raise TypeError(f"conv dimension_numbers must be None, ConvDimensionNumbers or three "
                        f"strings like ('NCHW', 'OIHW', 'NCHW'), got {dimension_numbers!r}")
    specs = ConvDimensionNumbers(*(tuple(int(i) for i in s) for s in specs))
    for spec in specs:
        if sorted(spec) != list(range(len(lhs_shape))):
            raise TypeError(f"conv dimension_numbers {tuple(specs)} must each be a permutation "
                            f"of range({len(lhs_shape)})")
    return specs


def _dilate(sizes, dilation):
    return [0 if n == 0 else 1 + d * (n - 1) for n, d in zip(sizes, dilation)]


def _out_spatial(lhs_sizes, rhs_sizes, strides, padding):
    padded = [n + lo + hi for n, (lo, hi) in zip(lhs_sizes, padding)]
    return [max(0, (p - k) // s + 1) if p >= k else 0
            for p, k, s in zip(padded, rhs_sizes, strides)]


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count=1):
    """The output shape of a convolution of NC... and OI... operands (no dilation)."""
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    spatial = _out_spatial(lhs_shape[2:], rhs_shape[2:], strides, pads)
    return (lhs_shape[0] // batch_group_count, rhs_shape[0]) + tuple(spatial)


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
    """The output shape of a convolution with the given dimension numbers (no dilation)."""
    lhs_spec, rhs_spec, out_spec = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    canonical = conv_shape_tuple(np.take(lhs_shape, lhs_spec), np.take(rhs_shape, rhs_spec),
                                 window_strides, padding)
    out = [0] * len(out_spec)
    for role, dim in enumerate(out_spec):
        out[dim] = int(canonical[role])
    return tuple(out)


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
    lhs_spec, rhs_spec, out_spec = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs_sizes, rhs_sizes = np.take(lhs_shape, lhs_spec), np.take(rhs_shape, rhs_spec)
    if isinstance(padding, str):
        padding = padtype_to_pads(lhs_sizes[2:], rhs_sizes[2:], window_strides, padding)
    spatial = [max(0, (n - 1) * s + lo + hi - k + 2) if n else 0
               for n, k, s, (lo, hi) in zip(lhs_sizes[2:], rhs_sizes[2:], window_strides, padding)]
    canonical = (lhs_sizes[0], rhs_sizes[0], *spatial)
    out = [0] * len(out_spec)
    for role, dim in enumerate(out_spec):
        out[dim] = int(canonical[role])
    return tuple(out)


# ---------------------------------------------------------------- the primitive
_PRECISIONS = {"DEFAULT": "DEFAULT", "BFLOAT16": "DEFAULT", "FASTEST": "DEFAULT",
               "HIGH": "HIGH", "TENSORFLOAT32": "HIGH", "HIGHEST": "HIGHEST", "FLOAT32": "HIGHEST"}


def canonical_precision(precision):
    """None, one precision, or a pair (lhs, rhs), as a hashable pair of XLA's names or None.
    A precision may be a string ('highest', 'float32', ...) or an enum member with a name."""
    if precision is None:
        return None
    pair = precision if isinstance(precision, (tuple, list)) else (precision, precision)
    if len(pair) != 2:
        raise ValueError(f"precision must be one value or a pair (lhs, rhs), got {precision!r}")
    names = []
    for p in pair:
        name = "DEFAULT" if p is None else str(getattr(p, "name", p)).upper()
        if name not in _PRECISIONS:
            raise ValueError(f"unknown precision {p!r}: use 'default', 'high', 'highest' (or "
                             "'bfloat16', 'tensorfloat32', 'float32')")
        names.append(_PRECISIONS[name])
    return tuple(names)


def _check_window(who, what, values, n, positive=True):
    if len(values) != n:
        raise TypeError(f"{who}: {what} {tuple(values)} must have one entry per spatial "
                        f"dimension ({n})")
    if positive and any(v < 1 for v in values):
        raise TypeError(f"{who}: {what} {tuple(values)} must be positive")


def _conv_aval(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count, precision,
               preferred_element_type):
    who = "conv_general_dilated"
    if lhs.ndim != rhs.ndim:
        raise TypeError(f"{who} needs operands of one rank, got lhs shape {lhs.shape} and rhs "
                        f"shape {rhs.shape}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{who} got operands of different dtypes {lhs.dtype} and {rhs.dtype}; "
                        "convert them first")
    if lhs.dtype == np.bool_:
        raise TypeError(f"{who} does not take bool operands; convert them to a number type")
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    n = lhs.ndim - 2
    for what, values in [("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                         ("rhs_dilation", rhs_dilation)]:
        _check_window(who, what, values, n)
    _check_window(who, "padding", padding, n, positive=False)
    lhs_sizes, rhs_sizes = np.take(lhs.shape, lhs_spec), np.take(rhs.shape, rhs_spec)
    batch, features, out_features, in_features = (lhs_sizes[0], lhs_sizes[1], rhs_sizes[0],
                                                  rhs_sizes[1])
    if feature_group_count < 1 or batch_group_count < 1:
        raise ValueError(f"{who}: feature_group_count ({feature_group_count}) and "
                         f"batch_group_count ({batch_group_count}) must be positive")
    if feature_group_count > 1 and batch_group_count > 1:
        raise ValueError(f"{who}: at most one of feature_group_count ({feature_group_count}) and "
                         f"batch_group_count ({batch_group_count}) may exceed 1")
    if features % feature_group_count or out_features % feature_group_count:
        raise ValueError(f"{who}: feature_group_count {feature_group_count} must divide the "
                         f"input features ({features}) and the kernel's output features "
                         f"({out_features})")
    if features // feature_group_count != in_features:
        raise ValueError(f"{who}: the input has {features} features, so with "
                         f"feature_group_count={feature_group_count} the kernel's input feature "
                         f"dimension must be {features // feature_group_count}, not "
                         f"{in_features} (lhs shape {lhs.shape}, rhs shape {rhs.shape})")
    if batch % batch_group_count or out_features % batch_group_count:
        raise ValueError(f"{who}: batch_group_count {batch_group_count} must divide the batch "
                         f"({batch}) and the kernel's output features ({out_features})")
    spatial = _out_spatial(_dilate(lhs_sizes[2:], lhs_dilation),
                           _dilate(rhs_sizes[2:], rhs_dilation), window_strides, padding)
    canonical = [batch // batch_group_count, out_features] + spatial
    shape = [0] * lhs.ndim
    for role, dim in enumerate(out_spec):
        shape[dim] = int(canonical[role])
    dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    return ShapedArray(tuple(shape), dtype, lhs.weak_type and rhs.weak_type)


def _conv_lowering(ctx, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    dims = (f"input_batch_dimension = {lhs_spec[0]}, input_feature_dimension = {lhs_spec[1]}, "
            f"input_spatial_dimensions = [{', '.join(map(str, lhs_spec[2:]))}], "
            f"kernel_input_feature_dimension = {rhs_spec[1]}, "
            f"kernel_output_feature_dimension = {rhs_spec[0]}, "
            f"kernel_spatial_dimensions = [{', '.join(map(str, rhs_spec[2:]))}], "
            f"output_batch_dimension = {out_spec[0]}, output_feature_dimension = {out_spec[1]}, "
            f"output_spatial_dimensions = [{', '.join(map(str, out_spec[2:]))}]")
    attrs = [f"dimension_numbers = #stablehlo.conv<raw {dims}>",
             f"feature_group_count = {feature_group_count} : i64",
             f"batch_group_count = {batch_group_count} : i64"]
    if window_strides:
        pads = ", ".join(f"[{lo}, {hi}]" for lo, hi in padding)
        attrs += [f"window_strides = {i64_array(window_strides)}",
                  f"lhs_dilation = {i64_array(lhs_dilation)}",
                  f"rhs_dilation = {i64_array(rhs_dilation)}",
                  f"padding = dense<[{pads}]> : tensor<{len(padding)}x2xi64>"]
    if precision is not None:
        attrs.append("precision_config = [" + ", ".join(
            f"#stablehlo<precision {p}>" for p in precision) + "]")
    return ctx.op("stablehlo.convolution", [lhs, rhs], attrs=", ".join(attrs))


# ---------------------------------------------------------------- reshapes between roles
def _split_axis(x, axis, groups):
    """Axis `axis` of size G*m becomes two axes (G, m), the group major."""
    shape = list(core.get_aval(x).shape)
    shape[axis:axis + 1] = [groups, shape[axis] // groups]
    return reshape(x, shape)


def _merge_axis(x, src, dst):
    """Fold axis `src` into axis `dst` (numbered with `src` removed), `src` the major part."""
    shape = core.get_aval(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    moved = transpose(x, perm)
    sizes = [shape[i] for i in perm]
    sizes[dst:dst + 2] = [sizes[dst] * sizes[dst + 1]]
    return reshape(moved, sizes)


# ---------------------------------------------------------------- transposes
def _swap_roles(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _lhs_transpose_padding(lhs_sizes, rhs_sizes, strides, out_sizes, padding, lhs_dilation,
                           rhs_dilation):
    lhs_d, rhs_d = _dilate(lhs_sizes, lhs_dilation), _dilate(rhs_sizes, rhs_dilation)
    out_d = _dilate(out_sizes, strides)
    before = [k - lo - 1 for k, (lo, _) in zip(rhs_d, padding)]
    return [(b, n + k - 1 - o - b) for b, n, k, o in zip(before, lhs_d, rhs_d, out_d)]


def _rhs_transpose_padding(lhs_sizes, rhs_sizes, strides, out_sizes, padding, lhs_dilation,
                           rhs_dilation):
    lhs_d, rhs_d = _dilate(lhs_sizes, lhs_dilation), _dilate(rhs_sizes, rhs_dilation)
    out_d = _dilate(out_sizes, strides)
    return [(lo, o - n + k - lo - 1) for (lo, _), n, k, o in zip(padding, lhs_d, rhs_d, out_d)]


def _conv_transpose_lhs(ct, lhs_aval, rhs, p):
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    groups, batch_groups = p["feature_group_count"], p["batch_group_count"]
    if groups > 1 or batch_groups > 1:  # each group's output features feed its own inputs
        rhs = _merge_axis(_split_axis(rhs, rhs_spec[0], max(groups, batch_groups)),
                          rhs_spec[0], rhs_spec[1])
    rhs_shape, ct_shape = core.get_aval(rhs).shape, core.get_aval(ct).shape
    padding = _lhs_transpose_padding(
        np.take(lhs_aval.shape, lhs_spec[2:]), np.take(rhs_shape, rhs_spec[2:]),
        p["window_strides"], np.take(ct_shape, out_spec[2:]), p["padding"], p["lhs_dilation"],
        p["rhs_dilation"])
    out = conv_general_dilated_p.bind(
        ct, rev(rhs, rhs_spec[2:]), window_strides=p["lhs_dilation"], padding=tuple(padding),
        lhs_dilation=p["window_strides"], rhs_dilation=p["rhs_dilation"],
        dimension_numbers=ConvDimensionNumbers(out_spec, _swap_roles(rhs_spec), lhs_spec),
        feature_group_count=max(groups, batch_groups), batch_group_count=1,
        precision=p["precision"], preferred_element_type=p["preferred_element_type"])
    if batch_groups > 1:  # the groups were stacked on the features: move them to the batch
        out = _merge_axis(_split_axis(out, lhs_spec[1], batch_groups), lhs_spec[1], lhs_spec[0])
    return out


def _conv_transpose_rhs(ct, lhs, rhs_aval, p):
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    groups, batch_groups = p["feature_group_count"], p["batch_group_count"]
    # feature groups of the forward convolution are batch groups of this one, and back
    groups, batch_groups = batch_groups, groups
    ct_shape = core.get_aval(ct).shape
    padding = _rhs_transpose_padding(
        np.take(core.get_aval(lhs).shape, lhs_spec[2:]), np.take(rhs_aval.shape, rhs_spec[2:]),
        p["window_strides"], np.take(ct_shape, out_spec[2:]), p["padding"], p["lhs_dilation"],
        p["rhs_dilation"])
    return conv_general_dilated_p.bind(
        lhs, ct, window_strides=p["rhs_dilation"], padding=tuple(padding),
        lhs_dilation=p["lhs_dilation"], rhs_dilation=p["window_strides"],
        dimension_numbers=ConvDimensionNumbers(_swap_roles(lhs_spec), _swap_roles(out_spec),
                                               _swap_roles(rhs_spec)),
        feature_group_count=groups, batch_group_count=batch_groups, precision=p["precision"],
        preferred_element_type=p["preferred_element_type"])


def _conv_transpose(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise TypeError("conv_general_dilated of two linear values is not linear: cannot "
                        "transpose it")
    # with preferred_element_type the cotangent may be wider than the operands: the known
    # operand joins it there, and the result is narrowed to the unknown operand's dtype
    ct_dtype = core.get_aval(ct).dtype
    params = dict(params, preferred_element_type=None)
    if is_undefined(lhs):
        rhs = _to_dtype(rhs, ct_dtype)
    else:
        lhs = _to_dtype(lhs, ct_dtype)
    if is_undefined(lhs):
        out = _conv_transpose_lhs(ct, lhs.aval, rhs, params)
        return [_to_dtype(out, lhs.aval.dtype), None]
    out = _conv_transpose_rhs(ct, lhs, rhs.aval, params)
    return [None, _to_dtype(out, rhs.aval.dtype)]


def _to_dtype(x, dtype):
    return x if core.get_aval(x).dtype == dtype else convert_element_type(x, dtype)


# ---------------------------------------------------------------- batching
def _conv_batch(axis, args, dims, **params):
    (lhs, rhs), (lb, rb) = args, dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    bind = conv_general_dilated_p.bind
    if lb is not None and rb is not None:
        # each example's kernel sees only its own input: the examples become groups
        size = core.get_aval(lhs).shape[lb]
        if batch_groups > 1:
            lhs = _merge_axis(lhs, lb, lhs_spec[0])
            params = dict(params, batch_group_count=batch_groups * size)
        else:
            lhs = _merge_axis(lhs, lb, lhs_spec[1])
            params = dict(params, feature_group_count=groups * size)
        out = bind(lhs, _merge_axis(rhs, rb, rhs_spec[0]), **params)
        return _split_axis(out, out_spec[1], size), out_spec[1]
    if lb is not None:
        size = core.get_aval(lhs).shape[lb]
        if batch_groups == 1:  # the examples join the batch
            out = bind(_merge_axis(lhs, lb, lhs_spec[0]), rhs, **params)
            return _split_axis(out, out_spec[0], size), out_spec[0]
        # the batch groups must stay outermost: split them off, fold the examples in behind
        lhs = _split_axis(lhs, lhs_spec[0] + (lb <= lhs_spec[0]), batch_groups)
        lhs = _merge_axis(lhs, lb + (lhs_spec[0] < lb), lhs_spec[0] + 1)
        lhs = _merge_axis(lhs, lhs_spec[0], lhs_spec[0])
        out = bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[0], size), out_spec[0]
    size = core.get_aval(rhs).shape[rb]
    if groups == 1 and batch_groups == 1:  # the examples' kernels become more output features
        out = bind(lhs, _merge_axis(rhs, rb, rhs_spec[0]), **params)
        return _split_axis(out, out_spec[1], size), out_spec[1]
    count = max(groups, batch_groups)  # groups outermost in the output features
    rhs = _split_axis(rhs, rhs_spec[0] + (rb <= rhs_spec[0]), count)
    rhs = _merge_axis(rhs, rb + (rhs_spec[0] < rb), rhs_spec[0] + 1)
    rhs = _merge_axis(rhs, rhs_spec[0], rhs_spec[0])
    out = bind(lhs, rhs, **params)
    out = _split_axis(out, out_spec[1], count)
    out = _split_axis(out, out_spec[1] + 1, size)
    return _merge_axis(out, out_spec[1], out_spec[1] + 1), out_spec[1]


conv_general_dilated_p = Primitive("conv_general_dilated")
conv_general_dilated_p.def_abstract_eval(_conv_aval)
lowering_rules[conv_general_dilated_p] = _conv_lowering
defjvp(conv_general_dilated_p,
       lambda t, lhs, rhs, **p: conv_general_dilated_p.bind(t, rhs, **p),
       lambda t, lhs, rhs, **p: conv_general_dilated_p.bind(lhs, t, **p))
transpose_rules[conv_general_dilated_p] = _conv_transpose
linear_primitives.add(conv_general_dilated_p)  # in each operand, the other one known
batching_rules[conv_general_dilated_p] = _conv_batch


# ---------------------------------------------------------------- wrappers
def _ints(who, what, values, n, default=1):
    if values is None:
        return (default,) * n
    try:
        out = tuple(int(v) for v in values)
    except TypeError:
        raise TypeError(f"{who}: {what} must be a sequence of {n} integers, got {values!r}") \
            from None
    _check_window(who, what, out, n)
    return out


def _pairs(who, padding, n):
    try:
        out = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: padding must be 'SAME', 'VALID', 'SAME_LOWER' or a sequence "
                        f"of (low, high) pairs, got {padding!r}") from None
    _check_window(who, "padding", out, n, positive=False)
    return out


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
    """General n-d convolution (XLA's ConvWithGeneralPadding with dilations and groups)."""
    who = "conv_general_dilated"
    lhs_aval, rhs_aval = core.get_aval(lhs), core.get_aval(rhs)
    dnums = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    n = lhs_aval.ndim - 2
    window_strides = _ints(who, "window_strides", window_strides, n)
    lhs_dilation = _ints(who, "lhs_dilation", lhs_dilation, n)
    rhs_dilation = _ints(who, "rhs_dilation", rhs_dilation, n)
    if isinstance(padding, str) or hasattr(padding, "name"):
        lhs_sizes = np.take(lhs_aval.shape, dnums.lhs_spec)[2:]
        kernel = _dilate(np.take(rhs_aval.shape, dnums.rhs_spec)[2:], rhs_dilation)
        padding = padtype_to_pads(lhs_sizes, kernel, window_strides, padding)
    padding = _pairs(who, padding, n)
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dnums,
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        precision=canonical_precision(precision), preferred_element_type=preferred_element_type)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """Convolution of NC... inputs with OI... kernels (lax.conv)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """Convolution of NC... inputs with OI... kernels, with padding pairs and dilations."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                precision=precision, preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
    """Padding of the stride-dilated input that makes conv_transpose the gradient of a forward
    convolution with this (dilated) kernel size, stride and padding (as Keras' Conv2DTranspose):
    'SAME'/'VALID', or a forward (low, high) pair."""
    if isinstance(padding, tuple):
        low, high = (k - p - 1 for p in padding)
        return low, high
    if padding == "SAME":
        total = k + s - 2
        low = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        low = k - 1
    else:
        raise ValueError(f"conv_transpose padding must be 'SAME', 'VALID' or (low, high) pairs, "
                         f"got {padding!r}")
    return low, total - low


_TRANSPOSE_LAYOUTS = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                      4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None,
                   use_consistent_padding=False):
    """The transposed ("fractionally strided") convolution: the input dilated by `strides`.
    String padding names the forward convolution's; pairs are the transposed one's own unless
    `use_consistent_padding`, which reads them as the forward's too."""
    lhs_aval, rhs_aval = core.get_aval(lhs), core.get_aval(rhs)
    if dimension_numbers is None:
        if lhs_aval.ndim not in _TRANSPOSE_LAYOUTS:
            raise ValueError(f"conv_transpose has default dimension_numbers for ranks 2 to 5 "
                             f"only, got rank {lhs_aval.ndim}: pass dimension_numbers")
        dimension_numbers = _TRANSPOSE_LAYOUTS[lhs_aval.ndim]
    dnums = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    n = lhs_aval.ndim - 2
    kernel = np.take(rhs_aval.shape, dnums.rhs_spec)[2:]
    rhs_dilation = _ints("conv_transpose", "rhs_dilation", rhs_dilation, n)
    strides = _ints("conv_transpose", "strides", strides, n)
    if isinstance(padding, str) or use_consistent_padding:
        each = [padding] * n if isinstance(padding, str) else [tuple(p) for p in padding]
        padding = [_conv_transpose_padding(k, s, p)
                   for k, s, p in zip(_dilate(kernel, rhs_dilation), strides, each)]
    if transpose_kernel:  # the forward conv's kernel: flip it and swap its feature roles
        rhs = rev(rhs, dnums.rhs_spec[2:])
        dnums = dnums._replace(rhs_spec=_swap_roles(dnums.rhs_spec))
    return conv_general_dilated(lhs, rhs, (1,) * n, padding, lhs_dilation=strides,
                                rhs_dilation=rhs_dilation, dimension_numbers=dnums,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


__all__: Sequence[str] = (
    "ConvDimensionNumbers", "conv", "conv_dimension_numbers", "conv_general_dilated",
    "conv_general_permutations", "conv_general_shape_tuple", "conv_shape_tuple",
    "conv_transpose", "conv_transpose_shape_tuple", "conv_with_general_padding",
    "padtype_to_pads")
