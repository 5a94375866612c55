"""NumPy indexing `x[idx]` and JAX's functional updates `x.at[idx].set(v)` (add, multiply, min,
max, get, ...), with NumPy's rules and JAX's out-of-bounds behaviour: gathers clamp, scatters
drop out-of-bounds updates, negative indices count from the end.

Every index is first turned into an `IndexPlan` over a "view" of x (x with a size-1 axis
inserted for each None), one entry per view axis:
  a slice with step 1 is a window of the axis (offset dim of the gather),
  a slice with another step is a strided set of positions (its own batch dim of the indices),
  integers and integer arrays are advanced indices: broadcast together, their dims form one
  block of the output, placed where the first one was if they are adjacent in the index, else
  first (NumPy's rule; integers count as advanced, so `x[0, :, [1, 2]]` puts the 2 first).
The plan gives one gather (reading) or one scatter (updating) with the same indices. Indices of
only static slices and integers (and traced scalar integers) use slice / rev / dynamic_slice.
"""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import asarray_value, broadcast_shapes, broadcast_to, canonicalize_axis
from spmd.numpy._ufuncs import negative, reciprocal, remainder
from spmd.transforms import core, dtypes, lax
from spmd.transforms.array import Array
from spmd.transforms.core import Tracer
from spmd.transforms.lax.gather_scatter import GatherScatterMode


# ---------------------------------------------------------------- parsing the index
class _Slice:
    """A static slice of one view axis: positions start, start+step, ... (size of them)."""
    __slots__ = ("start", "step", "size", "dim_size")

    def __init__(self, start, step, size, dim_size):
        self.start, self.step, self.size, self.dim_size = start, step, size, dim_size

    @property
    def is_full(self):
        return self.step == 1 and self.size == self.dim_size

    @property
    def is_window(self):
        return self.step == 1 or self.size <= 1


class _Advanced:
    """An integer index (static int, NumPy array, or device/traced array) of one view axis."""
    __slots__ = ("value", "dim_size")

    def __init__(self, value, dim_size):
        self.value, self.dim_size = value, dim_size


_LIST_INDEX_ERROR = ("Using a non-tuple sequence for multidimensional indexing is not allowed; "
                     "use `arr[tuple(seq)]` for a sequence of indices or `arr[array(seq)]` for "
                     "an index array instead of `arr[seq]`.")


def _as_tuple(idx) -> tuple:
    if isinstance(idx, tuple):
        return idx
    if isinstance(idx, list):
        raise TypeError(_LIST_INDEX_ERROR)
    return (idx,)


def _static_slice(s: slice, dim_size: int) -> _Slice:
    try:
        start, stop, step = s.indices(dim_size)
    except core.ConcretizationError:
        raise IndexError(
            f"Array slice indices must have static start/stop/step to be used with NumPy "
            f"indexing syntax. Found {s}. To index a statically sized array at a dynamic "
            "position, use lax.dynamic_slice / lax.dynamic_update_slice (array shapes must be "
            "static inside jit).") from None
    return _Slice(start, step, len(range(start, stop, step)), dim_size)


def _index_value(e, position):
    """An index entry as an int, a NumPy array, or an Array/tracer; checks its dtype."""
    if isinstance(e, (list, tuple)):
        e = np.asarray(e) if len(e) else np.zeros((0,), np.int32)
    if isinstance(e, (bool, np.bool_)):
        return np.bool_(e)
    if isinstance(e, (int, np.integer)):
        return int(e)
    if isinstance(e, str) or not isinstance(e, (np.ndarray, Array, Tracer, np.generic)):
        raise TypeError(f"Indexing mode not supported: unsupported index {e!r} at position "
                        f"{position}; use integers, slices, None, Ellipsis, or integer/boolean "
                        "arrays")
    dtype = core.get_aval(e).dtype
    if not (dtypes.is_integer(dtype) or dtype == np.bool_):
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{dtype} at position {position}, indexer value {e}")
    return e


def _mask_positions(mask, position):
    if isinstance(mask, Tracer):
        raise IndexError(
            f"Array boolean indices must be concrete; got a traced mask "
            f"{mask.aval.str_short()} at position {position}. Its number of True entries (the "
            "result's shape) is not known while tracing. Use spmd.numpy.where(mask, x, fill) "
            "to select elementwise, or pass size= to spmd.numpy.nonzero.")
    return np.nonzero(np.asarray(mask))


class IndexPlan:
    """What `x[idx]` reads, as a gather over the view of x (see the module docstring)."""

    def __init__(self, shape, idx):
        self.shape = tuple(shape)
        items = [self._classify(e, i) for i, e in enumerate(_as_tuple(idx))]
        consumed = sum(len(v[1]) if kind == "mask" else 1 for kind, v in items
                       if kind in ("slice", "adv", "mask"))
        if consumed > len(self.shape):
            raise IndexError(f"Too many indices: {len(self.shape)}-dimensional array indexed "
                             f"with {consumed} regular indices.")
        if sum(kind == "ellipsis" for kind, _ in items) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        adv_items = [i for i, (kind, _) in enumerate(items) if kind in ("adv", "mask")]
        self.adjacent = all(b - a == 1 for a, b in zip(adv_items, adv_items[1:]))
        self.view_shape, self.entries = [], []
        dim = 0
        for kind, value in items:
            if kind == "new":  # None, or a scalar bool: a new axis of size 1 (0 for False)
                self.view_shape.append(1)
                self.entries.append(_Slice(0, 1, int(value), 1))
            elif kind == "ellipsis":
                for _ in range(len(self.shape) - consumed):
                    self._add_full(dim)
                    dim += 1
            elif kind == "slice":
                self.view_shape.append(self.shape[dim])
                self.entries.append(_static_slice(value, self.shape[dim]))
                dim += 1
            elif kind == "adv":
                self.view_shape.append(self.shape[dim])
                self.entries.append(_Advanced(value, self.shape[dim]))
                dim += 1
            else:  # a concrete boolean mask: the integer arrays of its True positions
                mask_shape, expected = value[0], self.shape[dim:dim + len(value[1])]
                if tuple(mask_shape) != tuple(expected):
                    raise IndexError(f"boolean index did not match shape of indexed array in "
                                     f"index {value[2]}: got {tuple(mask_shape)}, expected "
                                     f"{tuple(expected)}")
                for positions in value[1]:
                    self.view_shape.append(self.shape[dim])
                    self.entries.append(_Advanced(positions, self.shape[dim]))
                    dim += 1
        while dim < len(self.shape):
            self._add_full(dim)
            dim += 1
        self.view_shape = tuple(self.view_shape)
        self._layout()

    def _add_full(self, dim):
        self.view_shape.append(self.shape[dim])
        self.entries.append(_Slice(0, 1, self.shape[dim], self.shape[dim]))

    @staticmethod
    def _classify(e, position):
        if e is None:
            return "new", 1
        if e is Ellipsis:
            return "ellipsis", None
        if isinstance(e, slice):
            return "slice", e
        e = _index_value(e, position)
        aval = core.get_aval(e)
        if aval.dtype == np.bool_:
            if aval.ndim == 0:
                if isinstance(e, Tracer):
                    _mask_positions(e, position)  # raises
                return "new", int(bool(e))
            positions = _mask_positions(e, position)
            return "mask", (aval.shape, positions, position)
        return "adv", e

    # ------------------------------------------------------------ output layout
    def _layout(self):
        """Where each view axis lands in the output, and the gather that produces it."""
        adv = [d for d, e in enumerate(self.entries) if isinstance(e, _Advanced)]
        for d in adv:
            if self.entries[d].dim_size == 0 and core.get_aval(self.entries[d].value).size:
                raise IndexError(f"index is out of bounds for axis {d} with size 0")
        # scalar integers select one position each; only integer arrays can repeat positions
        self.scalars_only = all(core.get_aval(self.entries[d].value).ndim == 0 for d in adv)
        self.adv_dims = adv
        self.adv_shape = _broadcast_index_shapes([core.get_aval(self.entries[d].value).shape
                                                  for d in adv]) if adv else ()
        order = []  # output items: ("adv",) or a view dim holding a slice
        for d, e in enumerate(self.entries):
            if isinstance(e, _Advanced):
                if self.adjacent and d == adv[0]:
                    order.append("adv")
            else:
                order.append(d)
        if adv and not self.adjacent:
            order.insert(0, "adv")
        self.out_shape, self.offset_dims, self.batch_shape = [], [], []
        self.batch_position = {}  # view dim (or "adv") -> first position in the batch shape
        for item in order:
            if item == "adv":
                self.batch_position["adv"] = len(self.batch_shape)
                self.batch_shape += self.adv_shape
                self.out_shape += self.adv_shape
                continue
            e = self.entries[item]
            if e.is_window:
                self.offset_dims.append(len(self.out_shape))
            else:
                self.batch_position[item] = len(self.batch_shape)
                self.batch_shape.append(e.size)
            self.out_shape.append(e.size)
        self.out_shape, self.batch_shape = tuple(self.out_shape), tuple(self.batch_shape)
        strided = [d for d, e in enumerate(self.entries) if isinstance(e, _Slice) and
                   not e.is_window]
        windows = [d for d, e in enumerate(self.entries) if isinstance(e, _Slice) and
                   e.is_window and not e.is_full]
        self.index_map = tuple(adv + strided + windows)
        self.collapsed = tuple(sorted(adv + strided))
        self.slice_sizes = tuple(1 if d in self.collapsed else e.size
                                 for d, e in enumerate(self.entries))
        self.unique = self.scalars_only

    @property
    def is_basic(self) -> bool:
        """Only slices and scalar integers: slice / rev / dynamic_slice suffice."""
        return self.scalars_only

    # ------------------------------------------------------------ the gather indices
    def indices(self):
        """The gather/scatter indices: batch_shape + (len(index_map),)."""
        dtype = _index_dtype(self.view_shape)
        parts = []
        adv_start = self.batch_position.get("adv", 0)
        nb = len(self.batch_shape)
        for d in self.index_map:
            e = self.entries[d]
            if isinstance(e, _Advanced):
                value = _normalize(e.value, e.dim_size, dtype)
                nd = core.get_aval(value).ndim
                first = adv_start + len(self.adv_shape) - nd
                parts.append((value, tuple(range(first, first + nd))))
            elif not e.is_window:
                parts.append((np.arange(e.size, dtype=dtype) * e.step + e.start,
                               (self.batch_position[d],)))
            else:
                parts.append((np.asarray(e.start, dtype), ()))
        if all(isinstance(v, np.ndarray) for v, _ in parts):
            cols = [np.broadcast_to(np.expand_dims(v, tuple(i for i in range(nb) if i not in
                                                            dims)), self.batch_shape)
                    for v, dims in parts]
            return np.stack(cols, axis=-1) if cols else np.zeros(self.batch_shape + (0,), dtype)
        cols = [lax.broadcast_in_dim(v, self.batch_shape + (1,), dims) for v, dims in parts]
        return cols[0] if len(cols) == 1 else lax.concatenate(cols, nb)

    def gather_dnums(self):
        return lax.GatherDimensionNumbers(offset_dims=tuple(self.offset_dims),
                                          collapsed_slice_dims=self.collapsed,
                                          start_index_map=self.index_map)

    def scatter_dnums(self):
        return lax.ScatterDimensionNumbers(update_window_dims=tuple(self.offset_dims),
                                           inserted_window_dims=self.collapsed,
                                           scatter_dims_to_operand_dims=self.index_map)


def _broadcast_index_shapes(shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes " + " ".join(str(tuple(s)) for s in shapes)) from None


def _index_dtype(shape):
    big = any(n >= 2 ** 31 - 1 for n in shape)
    return np.dtype(np.int64 if big else np.int32)


def _normalize(value, dim_size, dtype):
    """Negative indices count from the end (values below -dim_size stay out of bounds)."""
    if isinstance(value, (int, np.ndarray, np.integer)):
        value = np.asarray(value)
        if not dtypes.is_unsigned(value.dtype):
            value = np.where(value < 0, value + dim_size, value)
        return value.astype(dtype)
    aval = core.get_aval(value)
    if not dtypes.is_unsigned(aval.dtype):
        zero = lax.full(aval.shape, 0, aval.dtype)
        size = lax.full(aval.shape, dim_size, aval.dtype)
        value = lax.select(lax.lt(value, zero), lax.add(value, size), value)
    return lax.convert_element_type(value, dtype)


# ---------------------------------------------------------------- reading
def _as_array(x):
    return x if isinstance(x, (Array, Tracer)) else asarray_value(x)


def _gather_mode(mode):
    return GatherScatterMode.from_any(mode, GatherScatterMode.PROMISE_IN_BOUNDS)


def take_index(x, idx, mode=None, fill_value=None, indices_are_sorted=False,
               unique_indices=False):
    """x[idx] with an explicit out-of-bounds mode (None: clamp, as JAX's indexing)."""
    x = _as_array(x)
    plan = IndexPlan(core.get_aval(x).shape, idx)
    mode = _gather_mode(mode)
    view = _reshaped(x, plan.view_shape)
    if 0 in plan.out_shape:
        return lax.full(plan.out_shape, 0, core.get_aval(x).dtype)
    if plan.is_basic and (mode is not GatherScatterMode.FILL_OR_DROP or _static_in_bounds(plan)):
        return _basic_take(view, plan)
    if not plan.index_map:
        return _reshaped(view, plan.out_shape)
    return lax.gather(view, plan.indices(), plan.gather_dnums(), plan.slice_sizes, mode=mode,
                      fill_value=fill_value, indices_are_sorted=indices_are_sorted or plan.unique,
                      unique_indices=unique_indices or plan.unique)


def _static_in_bounds(plan):
    return all(isinstance(plan.entries[d].value, int) and
               -plan.entries[d].dim_size <= plan.entries[d].value < plan.entries[d].dim_size
               for d in plan.adv_dims)


def _basic_take(view, plan: IndexPlan):
    """Static slices by slice (and rev for negative steps), scalar integers by slicing one
    element (static, clamped as gather does) or dynamic_slice (traced), then a reshape."""
    starts, limits, strides, reverse = [], [], [], []
    for d, e in enumerate(plan.entries):
        n = plan.view_shape[d]
        if isinstance(e, _Advanced):
            starts.append(0)
            limits.append(n)
            strides.append(1)
        elif e.step > 0 or e.size <= 1:
            first = e.start if e.size else 0
            starts.append(first)
            limits.append(first + (e.size - 1) * abs(e.step) + 1 if e.size else first)
            strides.append(e.step if e.size > 1 else 1)
        else:  # walk the reversed axis forwards
            reverse.append(d)
            first = n - 1 - e.start
            starts.append(first)
            limits.append(first + (e.size - 1) * -e.step + 1)
            strides.append(-e.step)
    if reverse:
        view = lax.rev(view, tuple(reverse))
    if any(s != 0 for s in starts) or any(lim != n for lim, n in zip(limits, plan.view_shape)) \
            or any(s != 1 for s in strides):
        view = lax.slice(view, tuple(starts), tuple(limits), tuple(strides))
    if plan.adv_dims:
        dtype = _index_dtype(plan.view_shape)
        shape = core.get_aval(view).shape
        dyn = [np.asarray(0, dtype)] * len(shape)
        for d in plan.adv_dims:
            e = plan.entries[d]
            dyn[d] = _normalize(e.value, e.dim_size, dtype)
        sizes = tuple(1 if d in plan.adv_dims else n for d, n in enumerate(shape))
        if all(isinstance(v, np.ndarray) for v in dyn):
            # static: clamp into bounds like gather, then a static slice
            begin = tuple(int(np.clip(v, 0, n - 1)) if d in plan.adv_dims else 0
                          for d, (v, n) in enumerate(zip(dyn, shape)))
            view = lax.slice(view, begin, tuple(b + s for b, s in zip(begin, sizes)))
        else:
            view = lax.dynamic_slice(view, dyn, sizes)
    return _reshaped(view, plan.out_shape)


def _reshaped(x, shape):
    """reshape, skipped when the shape is already right (an eager reshape would run an op)."""
    return x if core.get_aval(x).shape == tuple(shape) else lax.reshape(x, tuple(shape))


def getitem(x, idx):
    """x[idx] with NumPy's semantics; out-of-bounds integer indices clamp (as in JAX)."""
    return take_index(x, idx)


# ---------------------------------------------------------------- updating
_SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "multiply": lax.scatter_mul,
             "min": lax.scatter_min, "max": lax.scatter_max}
_ELEMENTWISE = {"set": lambda x, y: y, "add": lax.add, "multiply": lax.mul,
                "min": lax.min, "max": lax.max}


def scatter_index(x, idx, values, kind, mode=None, indices_are_sorted=False,
                  unique_indices=False):
    """x with x[idx] combined with `values` by `kind` (set, add, multiply, min, max)."""
    x = _as_array(x)
    aval = core.get_aval(x)
    plan = IndexPlan(aval.shape, idx)
    values = _as_array(values)
    v_aval = core.get_aval(values)
    if v_aval.dtype != aval.dtype:
        values = lax.convert_element_type(values, aval.dtype, aval.weak_type)
    try:
        values = broadcast_to(values, plan.out_shape)
    except ValueError:
        raise ValueError(f"shape mismatch: value array of shape {v_aval.shape} could not be "
                         f"broadcast to indexing result of shape {plan.out_shape}") from None
    if 0 in plan.out_shape:
        return x
    view = _reshaped(x, plan.view_shape)
    if not plan.index_map:  # every axis taken whole: an elementwise update
        values = _reshaped(values, plan.view_shape)
        return _reshaped(_ELEMENTWISE[kind](view, values), aval.shape)
    mode = GatherScatterMode.from_any(mode, GatherScatterMode.FILL_OR_DROP)
    out = _SCATTERS[kind](view, plan.indices(), values, plan.scatter_dnums(), mode=mode,
                          indices_are_sorted=indices_are_sorted or plan.unique,
                          unique_indices=unique_indices or plan.unique)
    return _reshaped(out, aval.shape)


class IndexUpdateRef:
    """`x.at[idx]`: the functional updates of JAX (`set`, `add`, `multiply`, ...) and `get`."""
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
        return take_index(self.array, self.index, mode, fill_value, indices_are_sorted,
                          unique_indices)

    def _update(self, kind, values, indices_are_sorted, unique_indices, mode):
        return scatter_index(self.array, self.index, values, kind, mode, indices_are_sorted,
                             unique_indices)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update("set", values, indices_are_sorted, unique_indices, mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update("add", values, indices_are_sorted, unique_indices, mode)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self.add(negative(values), indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update("multiply", values, indices_are_sorted, unique_indices, mode)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        if not dtypes.is_inexact(core.get_aval(self.array).dtype):
            raise TypeError("x.at[idx].divide needs a floating-point array; use "
                            "x.at[idx].set(x[idx] // v) for integers")
        return self.multiply(reciprocal(values), indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices, mode=mode)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update("min", values, indices_are_sorted, unique_indices, mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update("max", values, indices_are_sorted, unique_indices, mode)


class IndexUpdateHelper:
    """The object behind `x.at`: `x.at[idx]` is an IndexUpdateRef."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


# ---------------------------------------------------------------- take / take_along_axis
def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """numpy.take; out-of-bounds indices give fill_value (NaN for floats) by default, as in
    JAX; mode="clip" clamps them, mode="wrap" wraps them."""
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.take is not supported")
    a = _as_array(a)
    indices = _as_array(indices)
    if not dtypes.is_integer(core.get_aval(indices).dtype):
        raise TypeError(f"take: indices must be integers, got {core.get_aval(indices).dtype}")
    if axis is None:
        a = lax.reshape(a, (core.get_aval(a).size,))
        axis = 0
    axis = canonicalize_axis(axis, core.get_aval(a).ndim)
    if mode == "wrap":
        indices, mode = remainder(indices, core.get_aval(a).shape[axis]), "promise_in_bounds"
    elif mode in (None, "fill"):
        mode = "fill"
    elif mode not in ("clip", "promise_in_bounds"):
        raise ValueError(f"invalid mode {mode!r} for take; use 'fill', 'clip' or 'wrap'")
    idx = (slice(None),) * axis + (indices,)
    return take_index(a, idx, mode=mode, fill_value=fill_value,
                      indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """numpy.take_along_axis: arr and indices broadcast against each other except along axis;
    out-of-bounds indices fill (NaN for floats) by default, as in JAX."""
    arr, indices = _as_array(arr), _as_array(indices)
    a_aval, i_aval = core.get_aval(arr), core.get_aval(indices)
    if not dtypes.is_integer(i_aval.dtype):
        raise TypeError(f"take_along_axis indices must be of integer type, got {i_aval.dtype}")
    if axis is None:
        if i_aval.ndim != 1:
            raise ValueError(f"take_along_axis indices must be 1D if axis=None, got shape "
                             f"{i_aval.shape}")
        arr, axis = lax.reshape(arr, (a_aval.size,)), 0
        a_aval = core.get_aval(arr)
    if a_aval.ndim != i_aval.ndim:
        raise ValueError(f"indices and arr must have the same number of dimensions; "
                         f"{i_aval.ndim} vs. {a_aval.ndim}")
    axis = canonicalize_axis(axis, a_aval.ndim)
    others = broadcast_shapes(*[tuple(1 if d == axis else n for d, n in enumerate(s))
                                for s in (a_aval.shape, i_aval.shape)])
    arr = broadcast_to(arr, others[:axis] + (a_aval.shape[axis],) + others[axis + 1:])
    indices = broadcast_to(indices, others[:axis] + (i_aval.shape[axis],) + others[axis + 1:])
    n = a_aval.shape[axis]
    out_shape = core.get_aval(indices).shape
    if 0 in out_shape or n == 0:
        return lax.full(out_shape, 0, a_aval.dtype)
    dtype = _index_dtype(core.get_aval(arr).shape)
    idx = lax.reshape(_normalize(indices, n, dtype), out_shape + (1,))
    batch = tuple(d for d in range(a_aval.ndim) if d != axis)
    dnums = lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(axis,),
                                       start_index_map=(axis,), operand_batching_dims=batch,
                                       start_indices_batching_dims=batch)
    return lax.gather(arr, idx, dnums, (1,) * a_aval.ndim,
                      mode="fill" if mode is None else mode, fill_value=fill_value)

