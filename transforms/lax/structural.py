"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, expand_dims, iota.
All are linear; each is declared with its shape rule, lowering, JVP, transpose and batching."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import deflinear, defjvp_zero
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.trace_primitives import broadcast_in_dim_p, transpose_p
from spmd.transforms.transpose import deftranspose_linear


def _check_shape(shape, who):
    shape = tuple(shape)
    for d in shape:
        if not isinstance(d, (int, np.integer)) or d < 0:
            raise TypeError(f"{who}: shape {shape} must be a tuple of non-negative ints")
    return tuple(int(d) for d in shape)


def canonical_axis(axis, ndim: int, who: str) -> int:
    """`axis` as an index in [0, ndim) (negative counts from the end), or a clear error."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{who}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{who}: axis {axis} is out of bounds for an array of rank {ndim}")
    return int(axis) % ndim


# ---------------------------------------------------------------- broadcast_in_dim
def _broadcast_in_dim_aval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: operand of shape {x.shape} needs {x.ndim} "
                        f"broadcast_dimensions, got {broadcast_dimensions}")
    for src, dst in enumerate(broadcast_dimensions):
        if not 0 <= dst < len(shape) or x.shape[src] not in (1, shape[dst]):
            raise TypeError(f"broadcast_in_dim: cannot broadcast operand of shape {x.shape} to "
                            f"shape {shape} with broadcast_dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_batch(axis, args, dims, *, shape, broadcast_dimensions):
    x = bdim_at_front(args[0], dims[0], axis.size)
    return broadcast_in_dim(x, (axis.size,) + tuple(shape),
                            (0,) + tuple(d + 1 for d in broadcast_dimensions)), 0


# broadcast_in_dim_p is declared in trace_primitives (vmap and zeros bind it); its transpose, a
# sum, is registered with reduce_sum in reductions.py
broadcast_in_dim_p.def_abstract_eval(_broadcast_in_dim_aval)
lowering_rules[broadcast_in_dim_p] = lambda ctx, x, *, shape, broadcast_dimensions: ctx.op(
    "stablehlo.broadcast_in_dim", [x],
    attrs=f"broadcast_dimensions = {i64_array(broadcast_dimensions)}")
deflinear(broadcast_in_dim_p)
batching_rules[broadcast_in_dim_p] = _broadcast_in_dim_batch


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape = _check_shape(shape, "broadcast_in_dim")
    aval = core.get_aval(x)
    if aval.shape == shape and tuple(broadcast_dimensions) == tuple(range(len(shape))) and \
            not core.is_concrete(x):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape,
                                   broadcast_dimensions=tuple(int(d) for d in broadcast_dimensions))


def broadcast(x, sizes):
    """Prepend dimensions of `sizes` (lax.broadcast)."""
    nd = core.get_aval(x).ndim
    sizes = tuple(sizes)
    return broadcast_in_dim(x, sizes + core.get_aval(x).shape,
                            tuple(range(len(sizes), len(sizes) + nd)))


# ---------------------------------------------------------------- reshape
def _reshape_aval(x, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} ({x.size} elements) "
                        f"into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_batch(axis, args, dims, *, new_sizes):
    x = bdim_at_front(args[0], dims[0], axis.size)
    return reshape(x, (axis.size,) + tuple(new_sizes)), 0


reshape_p = Primitive("reshape")
reshape_p.def_abstract_eval(_reshape_aval)
lowering_rules[reshape_p] = lambda ctx, x, *, new_sizes: ctx.op("stablehlo.reshape", [x])
deflinear(reshape_p)
deftranspose_linear(reshape_p, lambda ct, x, *, new_sizes: reshape(ct, x.aval.shape))
batching_rules[reshape_p] = _reshape_batch


def reshape(x, new_sizes):
    new_sizes = _check_shape(new_sizes, "reshape")
    if core.get_aval(x).shape == new_sizes and not core.is_concrete(x):
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


# ---------------------------------------------------------------- transpose
def _transpose_aval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"{x.ndim} axes of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_batch(axis, args, dims, *, permutation):
    x = bdim_at_front(args[0], dims[0], axis.size)
    return transpose(x, (0,) + tuple(p + 1 for p in permutation)), 0


# transpose_p is declared in trace_primitives (vmap's moveaxis binds it)
transpose_p.def_abstract_eval(_transpose_aval)
lowering_rules[transpose_p] = lambda ctx, x, *, permutation: ctx.op(
    "stablehlo.transpose", [x], attrs=f"permutation = {i64_array(permutation)}")
deflinear(transpose_p)
deftranspose_linear(transpose_p, lambda ct, x, *, permutation: transpose(
    ct, tuple(int(i) for i in np.argsort(permutation))))
batching_rules[transpose_p] = _transpose_batch


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))) and not core.is_concrete(x):
        return x
    return transpose_p.bind(x, permutation=permutation)


# ---------------------------------------------------------------- squeeze / expand_dims
def _squeeze_aval(x, *, dimensions):
    for d in dimensions:
        if x.shape[d] != 1:
            raise ValueError(f"squeeze: cannot remove axis {d} of size {x.shape[d]} from an array "
                             f"of shape {x.shape}; only axes of size 1 can be squeezed")
    return x.update(shape=tuple(n for i, n in enumerate(x.shape) if i not in dimensions))


def _squeeze_batch(axis, args, dims, *, dimensions):
    (x,), (bdim,) = args, dims
    x = moveaxis(x, bdim, 0)
    return squeeze_p.bind(x, dimensions=tuple(d + 1 for d in dimensions)), 0


# JAX's squeeze_p: a reshape that only drops axes of size 1 (XLA has no squeeze of its own)
squeeze_p = Primitive("squeeze")
squeeze_p.def_abstract_eval(_squeeze_aval)
lowering_rules[squeeze_p] = lambda ctx, x, *, dimensions: ctx.op("stablehlo.reshape", [x])
deflinear(squeeze_p)
deftranspose_linear(squeeze_p, lambda ct, x, *, dimensions: reshape(ct, x.aval.shape))
batching_rules[squeeze_p] = _squeeze_batch


def squeeze(x, dimensions):
    """x without its axes `dimensions` (each of size 1; negative ones count from the end)."""
    ndim = core.get_aval(x).ndim
    dims = tuple(sorted({canonical_axis(d, ndim, "squeeze") for d in dimensions}))
    return squeeze_p.bind(x, dimensions=dims)


def expand_dims(x, dimensions):
    shape = list(core.get_aval(x).shape)
    nd = len(shape) + len(dimensions)
    for d in sorted(d % nd for d in dimensions):
        shape.insert(d, 1)
    return reshape(x, tuple(shape))


# ---------------------------------------------------------------- iota
def _iota_aval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}")
    return ShapedArray(shape, dtype)


iota_p = Primitive("iota")
iota_p.def_abstract_eval(_iota_aval)
lowering_rules[iota_p] = lambda ctx, *, dtype, shape, dimension: ctx.op(
    "stablehlo.iota", [], attrs=f"iota_dimension = {dimension} : i64")
defjvp_zero(iota_p)


def iota(dtype, size: int):
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension: int):
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=_check_shape(shape, "iota"),
                       dimension=int(dimension))


def moveaxis_(x, src, dst):
    return moveaxis(x, src, dst)
