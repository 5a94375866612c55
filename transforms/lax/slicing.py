"""Slicing primitives: slice, dynamic_slice, dynamic_update_slice, concatenate, pad, rev, and
jax.lax's `*_in_dim` conveniences. Each is linear in its array operands (start indices are
integers and carry no tangent), so each has a transpose; each is declared with its shape rule,
lowering, JVP, transpose and batching rule.

Dynamic start indices follow JAX: a negative index counts from the end (wrapped once), then XLA
clamps it so that the whole slice is in bounds.
"""
from __future__ import annotations

import operator

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, deflinear, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.reductions import reduce_sum
from spmd.transforms.lax.structural import (broadcast_in_dim, canonical_axis, expand_dims, reshape,
                                            squeeze)
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import deftranspose_linear, is_undefined, transpose_rules


def _aval(x) -> ShapedArray:
    return core.get_aval(x)


def _zeros(aval: ShapedArray):
    return ew.full(aval.shape, 0, aval.dtype)


def scalar(value, dtype):
    """A NumPy scalar (not a 0-d array), so that traced programs write it as a literal."""
    return np.array(value, dtype)[()]


def _ints(values, who, what):
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{who}: {what} must be a sequence of ints, got {values!r}") from None


# ---------------------------------------------------------------- slice
def _slice_aval(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(f"slice: an operand of shape {x.shape} needs {x.ndim} start indices, "
                        f"limit indices and strides, got start_indices={start_indices}, "
                        f"limit_indices={limit_indices}, strides={strides}")
    for start, limit, stride, n in zip(start_indices, limit_indices, strides, x.shape):
        if not 0 <= start <= limit <= n:
            raise ValueError(f"slice: start_indices {start_indices} and limit_indices "
                             f"{limit_indices} must satisfy 0 <= start <= limit <= size for an "
                             f"operand of shape {x.shape}")
        if stride < 1:
            raise ValueError(f"slice: strides must be positive, got {strides}")
    shape = [-(-(limit - start) // stride) for start, limit, stride in
             zip(start_indices, limit_indices, strides)]
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_lowering(ctx, x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    return ctx.op("stablehlo.slice", [x], attrs=f"start_indices = {i64_array(start_indices)}, "
                  f"limit_indices = {i64_array(limit_indices)}, strides = {i64_array(strides)}")


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    """Put the cotangent back where the slice took it from: zeros elsewhere, and stride - 1
    zeros between consecutive elements."""
    shape, out_shape = x.aval.shape, _aval(ct).shape
    strides = strides or (1,) * len(shape)
    config = []
    for start, stride, n, m in zip(start_indices, strides, shape, out_shape):
        last = start + (m - 1) * stride + 1 if m else start  # one past the last element taken
        config.append((start, n - last, stride - 1))
    return pad(ct, scalar(0, _aval(ct).dtype), config)


def _slice_batch(axis, args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims
    insert = lambda seq, v: seq[:d] + (v,) + seq[d:]  # noqa: E731  (the whole batch axis)
    return slice_p.bind(x, start_indices=insert(start_indices, 0),
                        limit_indices=insert(limit_indices, axis.size),
                        strides=None if strides is None else insert(strides, 1)), d


slice_p = Primitive("slice")
slice_p.def_abstract_eval(_slice_aval)
lowering_rules[slice_p] = _slice_lowering
deflinear(slice_p)
deftranspose_linear(slice_p, _slice_transpose)
batching_rules[slice_p] = _slice_batch


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001  (jax.lax's name)
    """operand[start:limit:stride] along every dimension (lax.slice)."""
    start = _ints(start_indices, "slice", "start_indices")
    limit = _ints(limit_indices, "slice", "limit_indices")
    strides = None if strides is None else _ints(strides, "slice", "strides")
    if strides is not None and all(s == 1 for s in strides):
        strides = None
    return slice_p.bind(operand, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """operand[start:limit:stride] along `axis`; None means the end, negatives count from it."""
    shape = _aval(operand).shape
    axis = canonical_axis(axis, len(shape), "slice_in_dim")
    n = shape[axis]
    start = 0 if start_index is None else int(start_index)
    limit = n if limit_index is None else int(limit_index)
    start, limit = start + n if start < 0 else start, limit + n if limit < 0 else limit
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """operand[index] along `axis` (static index); keepdims keeps the axis with size 1."""
    shape = _aval(operand).shape
    axis = canonical_axis(axis, len(shape), "index_in_dim")
    n, index = shape[axis], int(index)
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {n}")
    index = index + n if index < 0 else index
    out = slice_in_dim(operand, index, index + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# ---------------------------------------------------------------- dynamic start indices
def _check_start_indices(who, operand: ShapedArray, indices, one_dtype: bool = True):
    if len(indices) != operand.ndim:
        raise TypeError(f"{who}: an operand of shape {operand.shape} needs {operand.ndim} start "
                        f"indices (one scalar per dimension), got {len(indices)}")
    for i, a in enumerate(indices):
        if a.shape != () or not dtypes.is_integer(a.dtype):
            raise TypeError(f"{who}: start indices must be scalar integers, but index {i} is "
                            f"{a.str_short()}")
    if one_dtype and len({a.dtype for a in indices}) > 1:
        raise TypeError(f"{who}: start indices must share one integer dtype, got "
                        f"{', '.join(str(a.dtype) for a in indices)}")


def _start_indices(who, operand, start_indices):
    """The start indices as scalars of one integer dtype, negatives wrapped once (as JAX)."""
    shape = _aval(operand).shape
    indices = _index_list(who, start_indices)
    _check_start_indices(who, _aval(operand), [_aval(i) for i in indices], one_dtype=False)
    typed = [_aval(i).dtype for i in indices if not isinstance(i, (int, np.integer))]
    dtype = dtypes.canonicalize(np.result_type(*typed) if typed else np.int32)
    out = []
    for i, n in zip(indices, shape):
        if isinstance(i, (int, np.integer)):  # known now: wrap in Python, keep it a literal
            i = int(i)
            out.append(scalar(i + n if i < 0 else i, dtype))
            continue
        i = ew.convert_element_type(i, dtype)
        if not dtypes.is_unsigned(dtype):
            i = ew.select(ew.lt(i, ew.full((), 0, dtype)), ew.add(i, ew.full((), n, dtype)), i)
        out.append(i)
    return out


def _index_list(who, start_indices):
    """Start indices as a list of scalars: a sequence as it is, a 1-D array split up."""
    if isinstance(start_indices, (list, tuple)):
        return list(start_indices)
    aval = _aval(start_indices)
    if aval.ndim != 1:
        raise TypeError(f"{who}: start_indices must be a sequence of scalars or a 1-D array, "
                        f"got an array of shape {aval.shape}")
    if isinstance(start_indices, np.ndarray):
        return list(start_indices)
    return [reshape(slice_in_dim(start_indices, k, k + 1), ()) for k in range(aval.shape[0])]


def _index_dtype(indices):
    return _aval(indices[0]).dtype if indices else np.dtype(np.int32)


def _shift_examples(xs, amounts, axis: int, max_shift: int, toward_start: bool):
    """Shift every example (batch axis 0) of each array in `xs` along `axis` by its own amount,
    `amounts` of shape (B,) with 0 <= amount <= max_shift: toward_start reads x[j + a] (a
    dynamic slice at a), otherwise x[j - a] (an update placed at a); vacated places get zeros.

    A barrel shifter: one static shift and one select per bit of max_shift, O(size log shift)
    work and exact for every dtype. It is how a dynamic slice whose start differs per example
    is batched without a gather."""
    for k in range(int(max_shift).bit_length()):
        m = 1 << k
        low = ew.shift_right_logical(amounts, _fill_like(amounts, k)) if k else amounts
        bit = ew.ne(ew.bitwise_and(low, _fill_like(amounts, 1)), _fill_like(amounts, 0))
        shifted = []
        for x in xs:
            aval = _aval(x)
            config = [(0, 0, 0)] * aval.ndim
            config[axis] = (-m, m, 0) if toward_start else (m, -m, 0)
            moved = pad(x, scalar(0, aval.dtype), config)
            shifted.append(ew.select(broadcast_in_dim(bit, aval.shape, (0,)), moved, x))
        xs = shifted
    return xs


def _fill_like(x, value):
    aval = _aval(x)
    return ew.full(aval.shape, value, aval.dtype)


def _per_example_starts(index, bdim, size: int, max_start: int):
    """One start per example, shape (B,), clamped to [0, max_start] as XLA clamps."""
    dtype = _aval(index).dtype
    starts = broadcast_in_dim(index, (size,), ()) if bdim is None else index
    return ew.max(ew.min(starts, ew.full((size,), max_start, dtype)), ew.full((size,), 0, dtype))


# ---------------------------------------------------------------- dynamic_slice
def _dynamic_slice_aval(x, *indices, slice_sizes):
    _check_start_indices("dynamic_slice", x, indices)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one size per "
                        f"dimension of the operand, each between 0 and that dimension's size; "
                        f"the operand has shape {x.shape}")
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *indices = primals
    out = dynamic_slice_p.bind(x, *indices, slice_sizes=slice_sizes)
    if type(tangents[0]) is Zero:
        return out, Zero(_aval(out))
    return out, dynamic_slice_p.bind(tangents[0], *indices, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *indices, slice_sizes):
    if type(ct) is Zero or not is_undefined(x):
        return [None] * (1 + len(indices))
    zeros = _zeros(x.aval.strip_weak())
    return [dynamic_update_slice_p.bind(zeros, ct, *indices)] + [None] * len(indices)


def _dynamic_slice_batch(axis, args, dims, *, slice_sizes):
    (x, *indices), (xd, *index_dims) = args, dims
    if all(d is None for d in index_dims):  # one slice for all: take the whole batch axis
        indices.insert(xd, scalar(0, _index_dtype(indices)))
        sizes = slice_sizes[:xd] + (axis.size,) + slice_sizes[xd:]
        return dynamic_slice_p.bind(x, *indices, slice_sizes=sizes), xd
    x = bdim_at_front(x, xd, axis.size)
    shape = _aval(x).shape[1:]
    for k, (index, d, size) in enumerate(zip(indices, index_dims, slice_sizes)):
        starts = _per_example_starts(index, d, axis.size, shape[k] - size)
        (x,) = _shift_examples([x], starts, k + 1, shape[k] - size, toward_start=True)
        x = slice_in_dim(x, 0, size, 1, k + 1)
    return x, 0


dynamic_slice_p = Primitive("dynamic_slice")
dynamic_slice_p.def_abstract_eval(_dynamic_slice_aval)
lowering_rules[dynamic_slice_p] = lambda ctx, x, *indices, slice_sizes: ctx.op(
    "stablehlo.dynamic_slice", [x, *indices], attrs=f"slice_sizes = {i64_array(slice_sizes)}")
jvp_rules[dynamic_slice_p] = _dynamic_slice_jvp
transpose_rules[dynamic_slice_p] = _dynamic_slice_transpose
batching_rules[dynamic_slice_p] = _dynamic_slice_batch
linear_primitives.add(dynamic_slice_p)  # in the operand; indices carry no tangent


def dynamic_slice(operand, start_indices, slice_sizes):
    """The slice of `slice_sizes` at traced `start_indices` (lax.dynamic_slice)."""
    indices = _start_indices("dynamic_slice", operand, start_indices)
    return dynamic_slice_p.bind(operand, *indices,
                                slice_sizes=_ints(slice_sizes, "dynamic_slice", "slice_sizes"))


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0):
    shape = _aval(operand).shape
    axis = canonical_axis(axis, len(shape), "dynamic_slice_in_dim")
    starts = [0] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True):
    axis = canonical_axis(axis, _aval(operand).ndim, "dynamic_index_in_dim")
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# ---------------------------------------------------------------- dynamic_update_slice
def _dynamic_update_slice_aval(x, update, *indices):
    _check_start_indices("dynamic_update_slice", x, indices)
    if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
        raise TypeError(f"dynamic_update_slice: the update of shape {update.shape} must have the "
                        f"operand's rank and fit inside the operand of shape {x.shape}")
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice: the update's dtype {update.dtype} must match the "
                        f"operand's {x.dtype}; convert one of them first")
    return ShapedArray(x.shape, x.dtype, x.weak_type and update.weak_type)


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *indices = primals
    out = dynamic_update_slice_p.bind(x, update, *indices)
    tx, tu = tangents[:2]
    if type(tx) is Zero and type(tu) is Zero:
        return out, Zero(_aval(out))
    tx, tu = instantiate(tx, _aval(x)), instantiate(tu, _aval(update))
    return out, dynamic_update_slice_p.bind(tx, tu, *indices)


def _dynamic_update_slice_transpose(ct, x, update, *indices):
    if type(ct) is Zero:
        return [None] * (2 + len(indices))
    update_aval = update.aval if is_undefined(update) else _aval(update)
    ct_x = (dynamic_update_slice_p.bind(ct, _zeros(update_aval.strip_weak()), *indices)
            if is_undefined(x) else None)
    ct_update = (dynamic_slice_p.bind(ct, *indices, slice_sizes=update_aval.shape)
                 if is_undefined(update) else None)
    return [ct_x, ct_update] + [None] * len(indices)


def _dynamic_update_slice_batch(axis, args, dims):
    (x, update, *indices), (xd, ud, *index_dims) = args, dims
    x, update = bdim_at_front(x, xd, axis.size), bdim_at_front(update, ud, axis.size)
    if all(d is None for d in index_dims):
        zero = scalar(0, _index_dtype(indices))
        return dynamic_update_slice_p.bind(x, update, zero, *indices), 0
    # Place the update (and a mask of where it lands) at the origin of an operand-shaped
    # array, shift each example to its own start, then select.
    x_shape, u_shape = _aval(x).shape[1:], _aval(update).shape[1:]
    config = [(0, 0, 0)] + [(0, n - u, 0) for n, u in zip(x_shape, u_shape)]
    placed = pad(update, scalar(0, _aval(update).dtype), config)
    mask = pad(ew.full(_aval(update).shape, True, np.bool_), np.False_, config)
    for k, (index, d) in enumerate(zip(indices, index_dims)):
        room = x_shape[k] - u_shape[k]
        starts = _per_example_starts(index, d, axis.size, room)
        placed, mask = _shift_examples([placed, mask], starts, k + 1, room, toward_start=False)
    return ew.select(mask, placed, x), 0


dynamic_update_slice_p = Primitive("dynamic_update_slice")
dynamic_update_slice_p.def_abstract_eval(_dynamic_update_slice_aval)
lowering_rules[dynamic_update_slice_p] = lambda ctx, x, update, *indices: ctx.op(
    "stablehlo.dynamic_update_slice", [x, update, *indices])
jvp_rules[dynamic_update_slice_p] = _dynamic_update_slice_jvp
transpose_rules[dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching_rules[dynamic_update_slice_p] = _dynamic_update_slice_batch
linear_primitives.add(dynamic_update_slice_p)  # in operand and update


def dynamic_update_slice(operand, update, start_indices):
    """`operand` with `update` written at traced `start_indices` (lax.dynamic_update_slice)."""
    indices = _start_indices("dynamic_update_slice", operand, start_indices)
    return dynamic_update_slice_p.bind(operand, update, *indices)


def dynamic_update_slice_in_dim(operand, update, start_index, axis):
    ndim = _aval(operand).ndim
    axis = canonical_axis(axis, ndim, "dynamic_update_slice_in_dim")
    starts = [0] * ndim
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis):
    ndim = _aval(operand).ndim
    axis = canonical_axis(axis, ndim, "dynamic_update_index_in_dim")
    if _aval(update).ndim == ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis)


# ---------------------------------------------------------------- concatenate
def _concatenate_aval(*operands, dimension):
    if not operands:
        raise TypeError("concatenate needs at least one operand")
    first = operands[0]
    if not 0 <= dimension < first.ndim:
        raise ValueError(f"concatenate: dimension {dimension} is out of range for operands of "
                         f"rank {first.ndim}")
    for a in operands[1:]:
        if a.dtype != first.dtype:
            raise TypeError(f"concatenate: operands must share one dtype, got "
                            f"{', '.join(str(o.dtype) for o in operands)}; convert them first")
        if a.ndim != first.ndim or any(m != n for i, (m, n) in enumerate(zip(a.shape, first.shape))
                                       if i != dimension):
            raise TypeError(f"concatenate: operands must have equal shapes except along dimension "
                            f"{dimension}, got {', '.join(str(o.shape) for o in operands)}")
    shape = list(first.shape)
    shape[dimension] = sum(a.shape[dimension] for a in operands)
    return ShapedArray(shape, first.dtype, all(a.weak_type for a in operands))


def _concatenate_jvp(primals, tangents, *, dimension):
    out = concatenate_p.bind(*primals, dimension=dimension)
    if all(type(t) is Zero for t in tangents):
        return out, Zero(_aval(out))
    ts = [instantiate(t, _aval(p)) for p, t in zip(primals, tangents)]
    return out, concatenate_p.bind(*ts, dimension=dimension)


def _concatenate_transpose(ct, *operands, dimension):
    if type(ct) is Zero:
        return [None] * len(operands)
    cts, start = [], 0
    for x in operands:
        size = (x.aval if is_undefined(x) else _aval(x)).shape[dimension]
        cts.append(slice_in_dim(ct, start, start + size, 1, dimension) if is_undefined(x) else None)
        start += size
    return cts


def _concatenate_batch(axis, args, dims, *, dimension):
    moved = [bdim_at_front(x, d, axis.size) for x, d in zip(args, dims)]
    return concatenate_p.bind(*moved, dimension=dimension + 1), 0


concatenate_p = Primitive("concatenate")
concatenate_p.def_abstract_eval(_concatenate_aval)
lowering_rules[concatenate_p] = lambda ctx, *xs, dimension: ctx.op(
    "stablehlo.concatenate", list(xs), attrs=f"dimension = {dimension} : i64")
jvp_rules[concatenate_p] = _concatenate_jvp
transpose_rules[concatenate_p] = _concatenate_transpose
batching_rules[concatenate_p] = _concatenate_batch
linear_primitives.add(concatenate_p)


def concatenate(operands, dimension):
    """Join arrays of one dtype along `dimension` (lax.concatenate)."""
    operands = list(operands)
    if not operands:
        raise TypeError("concatenate needs at least one operand")
    dimension = canonical_axis(dimension, _aval(operands[0]).ndim, "concatenate")
    if len(operands) == 1 and not isinstance(operands[0], (np.ndarray, np.generic)):
        return operands[0]  # an Array or a traced value: nothing to join
    return concatenate_p.bind(*operands, dimension=dimension)


# ---------------------------------------------------------------- pad
def _pad_aval(x, padding_value, *, padding_config):
    if padding_value.shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got shape {padding_value.shape}")
    if padding_value.dtype != x.dtype:
        raise TypeError(f"pad: padding_value's dtype {padding_value.dtype} must match the "
                        f"operand's {x.dtype}; convert it first")
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config needs one (low, high, interior) triple per "
                        f"dimension of the operand of shape {x.shape}, got {padding_config}")
    shape = []
    for (lo, hi, interior), n in zip(padding_config, x.shape):
        if interior < 0:
            raise ValueError(f"pad: interior padding must be non-negative, got {padding_config}")
        size = lo + hi + n + max(n - 1, 0) * interior
        if size < 0:
            raise ValueError(f"pad: padding_config {padding_config} gives a negative dimension "
                             f"for an operand of shape {x.shape}")
        shape.append(size)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_lowering(ctx, x, padding_value, *, padding_config):
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    return ctx.op("stablehlo.pad", [x, padding_value],
                  attrs=f"edge_padding_low = {i64_array(lo)}, edge_padding_high = "
                        f"{i64_array(hi)}, interior_padding = {i64_array(interior)}")


def _unpad(ct, padding_config):
    """The part of a padded array's cotangent that belongs to the operand (zeros for elements
    that negative padding cut off)."""
    dtype = _aval(ct).dtype
    edges = pad(ct, scalar(0, dtype), [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    shape = _aval(edges).shape
    strides = [interior + 1 for _, _, interior in padding_config]
    return slice(edges, [0] * len(shape), shape, strides)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    if type(ct) is Zero:
        return [None, None]
    ct_x = _unpad(ct, padding_config)
    ct_value = (ew.sub(reduce_sum(ct), reduce_sum(ct_x)) if is_undefined(padding_value) else None)
    return [ct_x if is_undefined(x) else None, ct_value]


def _pad_batch(axis, args, dims, *, padding_config):
    (x, value), (xd, vd) = args, dims
    if vd is None:
        config = padding_config[:xd] + ((0, 0, 0),) + padding_config[xd:]
        return pad_p.bind(x, value, padding_config=config), xd
    # One padding value per example: pad with zeros, then select the values where padded.
    x = bdim_at_front(x, xd, axis.size)
    config = ((0, 0, 0),) + padding_config
    dtype = _aval(x).dtype
    padded = pad_p.bind(x, scalar(0, dtype), padding_config=config)
    inside = pad_p.bind(ew.full(_aval(x).shape, True, np.bool_), np.False_, padding_config=config)
    values = broadcast_in_dim(value, _aval(padded).shape, (0,))
    return ew.select(inside, padded, values), 0


pad_p = Primitive("pad")
pad_p.def_abstract_eval(_pad_aval)
lowering_rules[pad_p] = _pad_lowering
deflinear(pad_p)
transpose_rules[pad_p] = _pad_transpose
batching_rules[pad_p] = _pad_batch


def pad(operand, padding_value, padding_config):
    """Pad with `padding_value`: one (low, high, interior) per dimension; negative low/high
    remove elements (lax.pad)."""
    config = tuple(_ints(triple, "pad", "each padding_config entry") for triple in padding_config)
    if any(len(triple) != 3 for triple in config):
        raise TypeError(f"pad: each padding_config entry must be a (low, high, interior) triple, "
                        f"got {padding_config}")
    return pad_p.bind(operand, padding_value, padding_config=config)


# ---------------------------------------------------------------- rev
def _rev_aval(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions) or any(not 0 <= d < x.ndim for d in dimensions):
        raise ValueError(f"rev: dimensions {dimensions} must be distinct axes of the operand of "
                         f"shape {x.shape}")
    return x


def _rev_batch(axis, args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return rev_p.bind(x, dimensions=tuple(a + (a >= d) for a in dimensions)), d


rev_p = Primitive("rev")
rev_p.def_abstract_eval(_rev_aval)
lowering_rules[rev_p] = lambda ctx, x, *, dimensions: ctx.op(
    "stablehlo.reverse", [x], attrs=f"dimensions = {i64_array(dimensions)}")
deflinear(rev_p)
deftranspose_linear(rev_p, lambda ct, x, *, dimensions: rev_p.bind(ct, dimensions=dimensions))
batching_rules[rev_p] = _rev_batch


def rev(operand, dimensions):
    """Reverse the order of elements along `dimensions` (lax.rev)."""
    ndim = _aval(operand).ndim
    dims = tuple(canonical_axis(d, ndim, "rev") for d in dimensions)
    return rev_p.bind(operand, dimensions=dims)
