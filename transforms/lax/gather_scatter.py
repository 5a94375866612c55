"""gather and the scatter family (scatter, scatter_add, scatter_mul, scatter_min, scatter_max),
with JAX's dimension numbers and out-of-bounds modes.

The primitives have XLA's native out-of-bounds behaviour: gather clamps each start index so the
whole window is in bounds; scatter skips an update window that is not wholly in bounds. The
other modes are built around them in the wrappers: gather's "fill" masks the clamped result,
scatter's "clip" clamps the indices first. So a primitive never carries a mode, and its rules
(JVP, transpose, batching) only deal with the native behaviour:
  gather (clamped) transposes to scatter_add of clamped indices,
  scatter_add (dropping) transposes to a gather that fills dropped windows with 0.
The index vector is always the last dimension of the indices, as in jax.lax.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.clamp import clamp
from spmd.transforms.lax.reductions import reduce_and
from spmd.transforms.lax.structural import broadcast_in_dim, iota, reshape
from spmd.transforms.lowering import i64_array, lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


class GatherDimensionNumbers(NamedTuple):
    """How operand, indices and output dimensions of a gather relate (as jax.lax's)."""
    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    """How operand, indices and updates dimensions of a scatter relate (as jax.lax's)."""
    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


class GatherScatterMode(enum.Enum):
    """Out-of-bounds behaviour. CLIP clamps indices so the window is in bounds; FILL_OR_DROP
    fills gathered windows that are out of bounds (fill_value) and drops such scatter updates;
    PROMISE_IN_BOUNDS does no checks (XLA clamps gathers and drops scatters)."""
    CLIP = "clip"
    FILL_OR_DROP = "fill"
    PROMISE_IN_BOUNDS = "promise_in_bounds"

    @staticmethod
    def from_any(mode, default=None) -> "GatherScatterMode":
        """A mode from its name; None gives `default` (FILL_OR_DROP, as JAX, if not given)."""
        if mode is None:
            return GatherScatterMode.FILL_OR_DROP if default is None else default
        if isinstance(mode, GatherScatterMode):
            return mode
        names = {"clip": GatherScatterMode.CLIP, "fill": GatherScatterMode.FILL_OR_DROP,
                 "drop": GatherScatterMode.FILL_OR_DROP,
                 "promise_in_bounds": GatherScatterMode.PROMISE_IN_BOUNDS}
        if mode not in names:
            raise ValueError(f"unknown gather/scatter mode {mode!r}; use one of "
                             "'clip', 'fill', 'drop', 'promise_in_bounds'")
        return names[mode]


def _ints(xs) -> tuple:
    return tuple(int(x) for x in xs)


def _canonical_gather_dnums(d) -> GatherDimensionNumbers:
    if not isinstance(d, GatherDimensionNumbers):
        raise TypeError(f"gather dimension_numbers must be a GatherDimensionNumbers, got {d!r}")
    return GatherDimensionNumbers(*(_ints(f) for f in d))


def _canonical_scatter_dnums(d) -> ScatterDimensionNumbers:
    if not isinstance(d, ScatterDimensionNumbers):
        raise TypeError(f"scatter dimension_numbers must be a ScatterDimensionNumbers, got {d!r}")
    return ScatterDimensionNumbers(*(_ints(f) for f in d))


def _dims_list(name, dims) -> str:
    return f"{name} = [{', '.join(map(str, dims))}]"


def _check_indices(who, indices: ShapedArray, n_index):
    if not dtypes.is_integer(indices.dtype):
        raise TypeError(f"{who}: indices must have an integer dtype, got {indices.dtype}")
    if indices.ndim == 0 or indices.shape[-1] != n_index:
        raise TypeError(f"{who}: the last dimension of the indices (shape {indices.shape}) is "
                        f"the index vector and must have size {n_index}, the length of "
                        "the index map; add a trailing axis of size 1 for scalar indices")


def _check_batching(who, operand, indices, op_batch, idx_batch):
    if len(op_batch) != len(idx_batch):
        raise TypeError(f"{who}: operand batching dims {op_batch} and indices batching dims "
                        f"{idx_batch} must pair up")
    for o, i in zip(op_batch, idx_batch):
        if not (0 <= o < operand.ndim and 0 <= i < indices.ndim - 1) or \
                operand.shape[o] != indices.shape[i]:
            raise TypeError(f"{who}: batching dims do not match: operand shape {operand.shape} "
                            f"dims {op_batch}, indices shape {indices.shape} dims {idx_batch}")


# ---------------------------------------------------------------- gather
def _gather_aval(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                 unique_indices):
    d = dimension_numbers
    _check_indices("gather", indices, len(d.start_index_map))
    _check_batching("gather", operand, indices, d.operand_batching_dims,
                    d.start_indices_batching_dims)
    if len(slice_sizes) != operand.ndim:
        raise TypeError(f"gather: slice_sizes {slice_sizes} must have one entry per dimension "
                        f"of the operand (shape {operand.shape})")
    for i, (s, n) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= s <= n:
            raise TypeError(f"gather: slice_sizes {slice_sizes} do not fit in the operand of "
                            f"shape {operand.shape} (dimension {i})")
    for dim in d.collapsed_slice_dims + d.operand_batching_dims:
        if not 0 <= dim < operand.ndim or slice_sizes[dim] > 1:
            raise TypeError(f"gather: collapsed and batching dims {dim} must index the operand "
                            f"(shape {operand.shape}) with slice size <= 1, got slice_sizes "
                            f"{slice_sizes}")
    for dim in d.start_index_map:
        if not 0 <= dim < operand.ndim:
            raise TypeError(f"gather: start_index_map {d.start_index_map} out of range for "
                            f"an operand of shape {operand.shape}")
    dropped = set(d.collapsed_slice_dims) | set(d.operand_batching_dims)
    window = [s for i, s in enumerate(slice_sizes) if i not in dropped]
    batch = list(indices.shape[:-1])
    rank = len(window) + len(batch)
    if len(d.offset_dims) != len(window) or list(d.offset_dims) != sorted(d.offset_dims) or \
            any(not 0 <= o < rank for o in d.offset_dims):
        raise TypeError(f"gather: offset_dims {d.offset_dims} must be sorted, in range, and "
                        f"name one output dimension per window dimension ({len(window)})")
    window_it, batch_it = iter(window), iter(batch)
    shape = [next(window_it) if i in d.offset_dims else next(batch_it) for i in range(rank)]
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_lowering(ctx, operand, indices, *, dimension_numbers, slice_sizes,
                     indices_are_sorted, unique_indices):
    d = dimension_numbers
    fields = ", ".join([
        _dims_list("offset_dims", d.offset_dims),
        _dims_list("collapsed_slice_dims", d.collapsed_slice_dims),
        _dims_list("operand_batching_dims", d.operand_batching_dims),
        _dims_list("start_indices_batching_dims", d.start_indices_batching_dims),
        _dims_list("start_index_map", d.start_index_map),
        f"index_vector_dim = {ctx.in_avals[1].ndim - 1}"])
    attrs = (f"dimension_numbers = #stablehlo.gather<{fields}>, "
             f"slice_sizes = {i64_array(slice_sizes)}, "
             f"indices_are_sorted = {str(indices_are_sorted).lower()}")
    return ctx.op("stablehlo.gather", [operand, indices], attrs=attrs)


gather_p = Primitive("gather")
gather_p.def_abstract_eval(_gather_aval)
lowering_rules[gather_p] = _gather_lowering


def _gather_jvp(primals, tangents, **params):
    operand, indices = primals
    out = gather_p.bind(operand, indices, **params)
    if type(tangents[0]) is Zero:
        return out, Zero(core.get_aval(out))
    return out, gather_p.bind(tangents[0], indices, **params)


def _gather_transpose(ct, operand, indices, *, dimension_numbers, slice_sizes,
                      indices_are_sorted, unique_indices):
    if is_undefined(indices):
        raise TypeError("gather is not linear in its indices")
    if type(ct) is Zero:
        return [None, None]
    d = dimension_numbers
    scatter_dnums = ScatterDimensionNumbers(
        update_window_dims=d.offset_dims, inserted_window_dims=d.collapsed_slice_dims,
        scatter_dims_to_operand_dims=d.start_index_map,
        operand_batching_dims=d.operand_batching_dims,
        scatter_indices_batching_dims=d.start_indices_batching_dims)
    aval = operand.aval
    zeros = ew.full(aval.shape, 0, aval.dtype)
    # the gather clamped its windows into bounds, so the cotangent goes where it read from
    return [scatter_add(zeros, indices, ct, scatter_dnums, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=GatherScatterMode.CLIP), None]


def _gather_batch(axis, args, dims, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices):
    (operand, indices), (od, idd) = args, dims
    d = dimension_numbers
    up = lambda ds: tuple(x + 1 for x in ds)  # noqa: E731  (dims after a new leading one)
    common = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
    if od is None:  # new leading batch dim of the indices -> leading batch dim of the output
        indices = moveaxis(indices, idd, 0)
        dn = d._replace(offset_dims=up(d.offset_dims),
                        start_indices_batching_dims=up(d.start_indices_batching_dims))
        return gather_p.bind(operand, indices, dimension_numbers=dn, slice_sizes=slice_sizes,
                             **common), 0
    operand = moveaxis(operand, od, 0)
    if idd is None:  # the operand's batch dim is one more window dim, taken whole
        dn = GatherDimensionNumbers(
            offset_dims=(0,) + up(d.offset_dims), collapsed_slice_dims=up(d.collapsed_slice_dims),
            start_index_map=up(d.start_index_map),
            operand_batching_dims=up(d.operand_batching_dims),
            start_indices_batching_dims=d.start_indices_batching_dims)
        sizes = (axis.size,) + tuple(slice_sizes)
        return gather_p.bind(operand, indices, dimension_numbers=dn, slice_sizes=sizes,
                             **common), 0
    indices = moveaxis(indices, idd, 0)  # both batched: a batching dim pair
    dn = GatherDimensionNumbers(
        offset_dims=up(d.offset_dims), collapsed_slice_dims=up(d.collapsed_slice_dims),
        start_index_map=up(d.start_index_map),
        operand_batching_dims=(0,) + up(d.operand_batching_dims),
        start_indices_batching_dims=(0,) + up(d.start_indices_batching_dims))
    return gather_p.bind(operand, indices, dimension_numbers=dn,
                         slice_sizes=(1,) + tuple(slice_sizes), **common), 0


jvp_rules[gather_p] = _gather_jvp
transpose_rules[gather_p] = _gather_transpose
batching_rules[gather_p] = _gather_batch
linear_primitives.add(gather_p)


def _upper_bounds(indices, operand_shape, index_map, window_sizes):
    """The largest start index whose window fits, per index vector component, broadcast to the
    indices' shape (a NumPy constant; every trace takes it as one)."""
    idx_aval = core.get_aval(indices)
    upper = np.array([operand_shape[d] - window_sizes[d] for d in index_map], idx_aval.dtype)
    return broadcast_in_dim(upper, idx_aval.shape, (idx_aval.ndim - 1,))


def _in_bounds_mask(indices, operand_shape, index_map, window_sizes):
    """True for each index vector whose window lies wholly in bounds (batch shape of indices)."""
    idx_aval = core.get_aval(indices)
    upper = _upper_bounds(indices, operand_shape, index_map, window_sizes)
    zero = ew.full(idx_aval.shape, 0, idx_aval.dtype)
    ok = ew.bitwise_and(ew.ge(indices, zero), ew.le(indices, upper))
    return reduce_and(ok, (idx_aval.ndim - 1,))


def _clamp_indices(indices, operand_shape, index_map, window_sizes):
    idx_aval = core.get_aval(indices)
    upper = _upper_bounds(indices, operand_shape, index_map, window_sizes)
    return clamp(ew.full(idx_aval.shape, 0, idx_aval.dtype), indices, upper)


def default_fill_value(dtype):
    """JAX's fill for out-of-bounds gathers: NaN, the most negative signed int, the largest
    unsigned int, True."""
    dtype = np.dtype(dtype)
    if dtypes.is_inexact(dtype):
        return np.nan
    if dtype == np.bool_:
        return True
    return np.iinfo(dtype).min if not dtypes.is_unsigned(dtype) else np.iinfo(dtype).max


def gather(operand, start_indices, dimension_numbers, slice_sizes, *, unique_indices=False,
           indices_are_sorted=False, mode=None, fill_value=None):
    """jax.lax.gather. mode None means "promise_in_bounds" (XLA clamps), as in JAX."""
    dn = _canonical_gather_dnums(dimension_numbers)
    slice_sizes = _ints(slice_sizes)
    mode = GatherScatterMode.from_any(mode, GatherScatterMode.PROMISE_IN_BOUNDS)
    out = gather_p.bind(operand, start_indices, dimension_numbers=dn, slice_sizes=slice_sizes,
                        indices_are_sorted=bool(indices_are_sorted),
                        unique_indices=bool(unique_indices))
    if mode is not GatherScatterMode.FILL_OR_DROP:
        return out
    out_aval = core.get_aval(out)
    op_shape = core.get_aval(operand).shape
    mask = _in_bounds_mask(start_indices, op_shape, dn.start_index_map, slice_sizes)
    batch_positions = tuple(i for i in range(out_aval.ndim) if i not in dn.offset_dims)
    mask = broadcast_in_dim(mask, out_aval.shape, batch_positions)
    fill = default_fill_value(out_aval.dtype) if fill_value is None else fill_value
    return ew.select(mask, out, ew.full(out_aval.shape, fill, out_aval.dtype))


# ---------------------------------------------------------------- scatters
def _window_sizes(operand_shape, updates_shape, d: ScatterDimensionNumbers):
    """The update window's extent along each operand dimension (1 where inserted/batched)."""
    dropped = set(d.inserted_window_dims) | set(d.operand_batching_dims)
    window_it = iter(updates_shape[w] for w in d.update_window_dims)
    return tuple(1 if i in dropped else next(window_it) for i in range(len(operand_shape)))


def _scatter_aval(name):
    def rule(operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices):
        d = dimension_numbers
        who = name
        _check_indices(who, indices, len(d.scatter_dims_to_operand_dims))
        _check_batching(who, operand, indices, d.operand_batching_dims,
                        d.scatter_indices_batching_dims)
        if name == "scatter_sub" and operand.dtype == np.bool_:
            raise TypeError("scatter_sub does not accept booleans (they have no subtraction); "
                            "use scatter_add or scatter on them")
        if updates.dtype != operand.dtype:
            raise TypeError(f"{who}: updates dtype {updates.dtype} must match the operand's "
                            f"{operand.dtype}; convert them first")
        dropped = set(d.inserted_window_dims) | set(d.operand_batching_dims)
        window_operand_dims = [i for i in range(operand.ndim) if i not in dropped]
        scatter_shape = list(indices.shape[:-1])
        if len(d.update_window_dims) != len(window_operand_dims) or \
                updates.ndim != len(d.update_window_dims) + len(scatter_shape):
            raise TypeError(f"{who}: updates of shape {updates.shape} do not fit: expected "
                            f"{len(scatter_shape)} scatter dims (indices shape {indices.shape})"
                            f" and {len(window_operand_dims)} window dims (operand shape "
                            f"{operand.shape}, inserted {d.inserted_window_dims})")
        scatter_dims = [i for i in range(updates.ndim) if i not in d.update_window_dims]
        if [updates.shape[i] for i in scatter_dims] != scatter_shape:
            raise TypeError(f"{who}: the scatter dims of updates {updates.shape} must equal the "
                            f"batch shape of the indices {tuple(scatter_shape)}")
        for w, o in zip(d.update_window_dims, window_operand_dims):
            if updates.shape[w] > operand.shape[o]:
                raise TypeError(f"{who}: update window of shape {updates.shape} is larger than "
                                f"the operand {operand.shape} along dimension {o}")
        for dim in d.scatter_dims_to_operand_dims:
            if not 0 <= dim < operand.ndim:
                raise TypeError(f"{who}: scatter_dims_to_operand_dims "
                                f"{d.scatter_dims_to_operand_dims} out of range for an operand "
                                f"of shape {operand.shape}")
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)
    return rule


_COMBINERS = {"scatter": None, "scatter_add": "stablehlo.add", "scatter_sub": "stablehlo.subtract",
              "scatter_mul": "stablehlo.multiply", "scatter_min": "stablehlo.minimum",
              "scatter_max": "stablehlo.maximum"}
_BOOL_COMBINERS = {"stablehlo.add": "stablehlo.or", "stablehlo.multiply": "stablehlo.and"}


def _scatter_lowering(name):
    def lower(ctx, operand, indices, updates, *, dimension_numbers, indices_are_sorted,
              unique_indices):
        d = dimension_numbers
        dtype = ctx.in_avals[0].dtype
        scalar = ShapedArray((), dtype)
        combiner = _COMBINERS[name]
        if dtype == np.bool_:
            combiner = _BOOL_COMBINERS.get(combiner, combiner)
        if combiner is None:
            region = ctx.region([scalar, scalar], lambda sub, args: [args[1]], [scalar])
        else:
            region = ctx.scalar_reducer(dtype, combiner)
        fields = ", ".join([
            _dims_list("update_window_dims", d.update_window_dims),
            _dims_list("inserted_window_dims", d.inserted_window_dims),
            _dims_list("input_batching_dims", d.operand_batching_dims),
            _dims_list("scatter_indices_batching_dims", d.scatter_indices_batching_dims),
            _dims_list("scatter_dims_to_operand_dims", d.scatter_dims_to_operand_dims),
            f"index_vector_dim = {ctx.in_avals[1].ndim - 1}"])
        attrs = (f"scatter_dimension_numbers = #stablehlo.scatter<{fields}>, "
                 f"indices_are_sorted = {str(indices_are_sorted).lower()}, "
                 f"unique_indices = {str(unique_indices).lower()}")
        return ctx.op("stablehlo.scatter", [operand, indices, updates], attrs=attrs,
                      regions=[region])
    return lower


def _scatter_batch(prim):
    def rule(axis, args, dims, *, dimension_numbers, indices_are_sorted, unique_indices):
        (operand, indices, updates), (od, idd, ud) = args, dims
        d = dimension_numbers
        up = lambda ds: tuple(x + 1 for x in ds)  # noqa: E731
        operand = bdim_at_front(operand, od, axis.size)
        updates = bdim_at_front(updates, ud, axis.size)
        if idd is None:  # the batch dim is one more window dim, scattered whole
            dn = ScatterDimensionNumbers(
                update_window_dims=(0,) + up(d.update_window_dims),
                inserted_window_dims=up(d.inserted_window_dims),
                scatter_dims_to_operand_dims=up(d.scatter_dims_to_operand_dims),
                operand_batching_dims=up(d.operand_batching_dims),
                scatter_indices_batching_dims=d.scatter_indices_batching_dims)
        else:  # a batching dim pair: each example scatters with its own indices
            indices = moveaxis(indices, idd, 0)
            dn = ScatterDimensionNumbers(
                update_window_dims=up(d.update_window_dims),
                inserted_window_dims=up(d.inserted_window_dims),
                scatter_dims_to_operand_dims=up(d.scatter_dims_to_operand_dims),
                operand_batching_dims=(0,) + up(d.operand_batching_dims),
                scatter_indices_batching_dims=(0,) + up(d.scatter_indices_batching_dims))
        return prim.bind(operand, indices, updates, dimension_numbers=dn,
                         indices_are_sorted=indices_are_sorted, unique_indices=unique_indices), 0
    return rule


def _declare_scatter(name) -> Primitive:
    prim = Primitive(name)
    prim.def_abstract_eval(_scatter_aval(name))
    lowering_rules[prim] = _scatter_lowering(name)
    batching_rules[prim] = _scatter_batch(prim)
    return prim


scatter_p = _declare_scatter("scatter")
scatter_add_p = _declare_scatter("scatter_add")
scatter_sub_p = _declare_scatter("scatter_sub")
scatter_mul_p = _declare_scatter("scatter_mul")
scatter_min_p = _declare_scatter("scatter_min")
scatter_max_p = _declare_scatter("scatter_max")


def _gather_dnums_for(d: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    """The gather that reads back what a scatter with these dimension numbers wrote."""
    return GatherDimensionNumbers(
        offset_dims=d.update_window_dims, collapsed_slice_dims=d.inserted_window_dims,
        start_index_map=d.scatter_dims_to_operand_dims,
        operand_batching_dims=d.operand_batching_dims,
        start_indices_batching_dims=d.scatter_indices_batching_dims)


def _gather_updates(x, indices, updates_aval, params, fill_value=0):
    """Values of `x` at each update's target (fill_value where the scatter drops the update)."""
    d = params["dimension_numbers"]
    sizes = _window_sizes(core.get_aval(x).shape, updates_aval.shape, d)
    return gather(x, indices, _gather_dnums_for(d), sizes, mode=GatherScatterMode.FILL_OR_DROP,
                  fill_value=fill_value, indices_are_sorted=params["indices_are_sorted"],
                  unique_indices=params["unique_indices"])


def _zeros(aval):
    return ew.full(aval.shape, 0, aval.dtype)


# scatter_add and scatter_sub: linear in operand and updates jointly
def _scatter_linear_jvp(prim):
    def rule(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = prim.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, Zero(core.get_aval(out))
        t_op = instantiate(t_op, core.get_aval(operand))
        t_up = instantiate(t_up, core.get_aval(updates))
        return out, prim.bind(t_op, indices, t_up, **params)
    return rule


def _scatter_linear_transpose(name, negate):
    def rule(ct, operand, indices, updates, **params):
        if is_undefined(indices):
            raise TypeError(f"{name} is not linear in its indices")
        if type(ct) is Zero:
            return [None, None, None]
        ct_updates = None
        if is_undefined(updates):
            ct_updates = _gather_updates(ct, indices, updates.aval, params)
            if negate:  # the updates enter with a minus sign
                ct_updates = ew.neg(ct_updates)
        return [ct if is_undefined(operand) else None, None, ct_updates]
    return rule


for _prim, _negate in ((scatter_add_p, False), (scatter_sub_p, True)):
    jvp_rules[_prim] = _scatter_linear_jvp(_prim)
    transpose_rules[_prim] = _scatter_linear_transpose(_prim.name, _negate)
    linear_primitives.add(_prim)


# scatter (overwrite)
def _scatter_jvp(primals, tangents, **params):
    """With unique indices the tangents scatter like the values. Otherwise (as JAX does) each
    update gets an id; scattering the ids tells which update won every position, and the
    tangent is the operand's tangent where nothing won plus the winners' tangents, which is
    linear in the tangents and so transposable."""
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_p.bind(operand, indices, updates, **params)
    if type(t_op) is Zero and type(t_up) is Zero:
        return out, Zero(core.get_aval(out))
    op_aval, up_aval = core.get_aval(operand), core.get_aval(updates)
    t_op, t_up = instantiate(t_op, op_aval), instantiate(t_up, up_aval)
    if params["unique_indices"]:
        return out, scatter_p.bind(t_op, indices, t_up, **params)
    d = params["dimension_numbers"]
    scatter_positions = [i for i in range(up_aval.ndim) if i not in d.update_window_dims]
    n = int(np.prod([up_aval.shape[i] for i in scatter_positions], dtype=np.int64))
    id_dtype = np.int32 if n < 2 ** 31 - 1 else np.int64
    flat_ids = ew.add(iota(id_dtype, n), ew.full((n,), 1, id_dtype))  # 0 means "no update"
    ids = broadcast_in_dim(reshape(flat_ids, tuple(up_aval.shape[i] for i in scatter_positions)),
                           up_aval.shape, tuple(scatter_positions))
    winner = scatter_p.bind(ew.full(op_aval.shape, 0, id_dtype), indices, ids, **params)
    won = ew.eq(_gather_updates(winner, indices, ShapedArray(up_aval.shape, id_dtype), params),
                ids)
    untouched = ew.eq(winner, ew.full(op_aval.shape, 0, id_dtype))
    kept = ew.select(untouched, t_op, _zeros(core.get_aval(t_op)))
    written = ew.select(won, t_up, _zeros(core.get_aval(t_up)))
    return out, scatter_add_p.bind(kept, indices, written, **params)


def _scatter_transpose(ct, operand, indices, updates, **params):
    """Only reached with unique indices (the JVP above emits scatter of tangents only then)."""
    if not params["unique_indices"]:
        raise NotImplementedError("transpose of scatter is only defined for unique_indices=True")
    if type(ct) is Zero:
        return [None, None, None]
    ct_op = ct_up = None
    if is_undefined(operand):
        ct_op = scatter_p.bind(ct, indices, _zeros(updates.aval if is_undefined(updates)
                                                   else core.get_aval(updates)), **params)
    if is_undefined(updates):
        ct_up = _gather_updates(ct, indices, updates.aval, params)
    return [ct_op, None, ct_up]


jvp_rules[scatter_p] = _scatter_jvp
transpose_rules[scatter_p] = _scatter_transpose
linear_primitives.add(scatter_p)  # with unique indices (see its JVP)


# scatter_mul: linear in the operand; in the updates only with unique indices (as in JAX)
def _scatter_mul_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    result = Zero(core.get_aval(out))
    if type(t_op) is not Zero:
        result = scatter_mul_p.bind(t_op, indices, updates, **params)
    if type(t_up) is not Zero:
        if not params["unique_indices"]:
            raise NotImplementedError(
                "scatter_mul is only differentiable with respect to its updates when "
                "unique_indices=True (as in JAX); pass unique_indices=True if no two updates "
                "hit the same element")
        spread = scatter_add_p.bind(_zeros(core.get_aval(operand)), indices, t_up, **params)
        term = ew.mul(operand, spread)
        result = term if type(result) is Zero else ew.add_any(result, term)
    return out, result


def _scatter_mul_transpose(ct, operand, indices, updates, **params):
    if is_undefined(indices) or is_undefined(updates):
        raise TypeError("scatter_mul is linear in its operand only")
    if type(ct) is Zero:
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


jvp_rules[scatter_mul_p] = _scatter_mul_jvp
transpose_rules[scatter_mul_p] = _scatter_mul_transpose
linear_primitives.add(scatter_mul_p)  # in its operand


def _scatter_extremum_jvp(prim):
    """The output's tangent is the average of the tangents of every value equal to the result
    there: the operand's and each update's that landed on it (ties share, as reduce_max does)."""
    def rule(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = prim.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, Zero(core.get_aval(out))
        op_aval, up_aval = core.get_aval(operand), core.get_aval(updates)
        t_op, t_up = instantiate(t_op, op_aval), instantiate(t_up, up_aval)
        dtype = op_aval.dtype
        at_target = _gather_updates(out, indices, up_aval, params, fill_value=0)
        up_wins = ew.convert_element_type(ew.eq(updates, at_target), dtype)
        op_wins = ew.convert_element_type(ew.eq(operand, out), dtype)
        count = ew.add(op_wins, scatter_add_p.bind(_zeros(op_aval), indices, up_wins, **params))
        total = ew.add_any(ew.mul(op_wins, t_op),
                           scatter_add_p.bind(_zeros(op_aval), indices, ew.mul(up_wins, t_up),
                                              **params))
        return out, ew.div(total, count)
    jvp_rules[prim] = rule


_scatter_extremum_jvp(scatter_min_p)
_scatter_extremum_jvp(scatter_max_p)


def _scatter_wrapper(prim, name):
    def fn(operand, scatter_indices, updates, dimension_numbers, *, indices_are_sorted=False,
           unique_indices=False, mode=None):
        dn = _canonical_scatter_dnums(dimension_numbers)
        mode = GatherScatterMode.from_any(mode, GatherScatterMode.FILL_OR_DROP)
        if mode is GatherScatterMode.CLIP:
            op_shape = core.get_aval(operand).shape
            sizes = _window_sizes(op_shape, core.get_aval(updates).shape, dn)
            scatter_indices = _clamp_indices(scatter_indices, op_shape,
                                             dn.scatter_dims_to_operand_dims, sizes)
        return prim.bind(operand, scatter_indices, updates, dimension_numbers=dn,
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"jax.lax.{name}. mode None means 'drop' (out-of-bounds update windows are "
                  "skipped), as in JAX; 'clip' clamps the indices first.")
    return fn


scatter = _scatter_wrapper(scatter_p, "scatter")
scatter_add = _scatter_wrapper(scatter_add_p, "scatter_add")
scatter_sub = _scatter_wrapper(scatter_sub_p, "scatter_sub")
scatter_mul = _scatter_wrapper(scatter_mul_p, "scatter_mul")
scatter_min = _scatter_wrapper(scatter_min_p, "scatter_min")
scatter_max = _scatter_wrapper(scatter_max_p, "scatter_max")
