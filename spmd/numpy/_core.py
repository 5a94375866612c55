"""What every spmd.numpy function starts with: turning inputs into typed values, NumPy's dtype
promotion (with JAX's weak Python scalars), and broadcasting to a common shape."""
from __future__ import annotations

import warnings

import numpy as np

from spmd.transforms import core, dtypes, lax
from spmd.transforms.config import config
from spmd.transforms.array import Array, make_array
from spmd.transforms.core import Tracer


def is_array_like(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex))


def check_array_like(name: str, *args):
    for x in args:
        if not is_array_like(x) and not hasattr(x, "__jax_array__"):
            raise TypeError(f"{name} requires array-like arguments (arrays or Python scalars), "
                            f"got {type(x).__name__}: {x!r:.60}")


def result_dtype(*args):
    """(dtype, weak) that NumPy-style promotion gives these operands."""
    return dtypes.result_type(*((core.get_aval(x).dtype, core.get_aval(x).weak_type)
                                for x in args))


def to_dtype(x, dtype, weak=False):
    """`x` as an array of `dtype` (an Array or tracer; host values are placed on the device)."""
    aval = core.get_aval(x)
    if aval.dtype == dtype and aval.weak_type == weak and isinstance(x, (Array, Tracer)):
        return x
    if not isinstance(x, (Array, Tracer)) and core.current_trace() is core.eval_trace:
        return make_array(np.asarray(x, dtype=dtype), weak_type=weak)
    return lax.convert_element_type(x, dtype, weak)  # under a trace, a scalar becomes a literal


def broadcast_shapes(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError("operands could not be broadcast together with shapes "
                         + " ".join(str(tuple(s)) for s in shapes)) from None


def broadcast_to(x, shape):
    shape = tuple(shape)
    aval = core.get_aval(x)
    if aval.shape == shape:
        return x
    nd = len(shape)
    if aval.ndim > nd:
        raise ValueError(f"cannot broadcast an array of shape {aval.shape} to shape {shape}")
    for have, want in zip(aval.shape[::-1], shape[::-1]):
        if have not in (1, want):
            raise ValueError(f"cannot broadcast an array of shape {aval.shape} to shape {shape}")
    # drop the size-1 dims that broadcast, then broadcast_in_dim
    lead = nd - aval.ndim
    keep = [i for i, n in enumerate(aval.shape) if n == shape[lead + i]]
    squeezed = lax.reshape(x, tuple(aval.shape[i] for i in keep)) if len(keep) != aval.ndim else x
    return lax.broadcast_in_dim(squeezed, shape, tuple(lead + i for i in keep))


def check_rank_promotion(name: str, shapes) -> None:
    """JAX's jax_numpy_rank_promotion: 'warn' or 'raise' where operands of different ranks
    (scalars aside) would broadcast, as NumPy lets them."""
    level = config.values["numpy_rank_promotion"]  # (every binary operation reads it)
    if level == "allow" or len({len(s) for s in shapes if s}) < 2:
        return
    listed = " ".join(str(tuple(s)) for s in shapes)
    if level == "warn":
        warnings.warn(f"Following NumPy automatic rank promotion for {name} on shapes {listed}. "
                      "Set the jax_numpy_rank_promotion config option to 'allow' to disable "
                      "this warning; for more information, see "
                      "https://docs.jax.dev/en/latest/rank_promotion_warning.html.",
                      stacklevel=3)
    else:
        raise ValueError(f"Operands could not be broadcast together for {name} on shapes "
                         f"{listed} and with the config option jax_numpy_rank_promotion="
                         "'raise'. For more information, see "
                         "https://docs.jax.dev/en/latest/rank_promotion_warning.html.")


def promote_args(name: str, *args):
    """Operands promoted to one dtype and broadcast to one shape."""
    check_array_like(name, *args)
    dtype, weak = result_dtype(*args)
    shapes = [core.get_aval(x).shape for x in args]
    check_rank_promotion(name, shapes)
    shape = broadcast_shapes(*shapes)
    return [broadcast_to(to_dtype(x, dtype, weak), shape) for x in args]


def promote_to_inexact(name: str, *args):
    """Like promote_args, then ints and bools become the default float (as NumPy's true ufuncs)."""
    out = promote_args(name, *args)
    aval = core.get_aval(out[0])
    if not dtypes.is_inexact(aval.dtype):
        out = [lax.convert_element_type(x, dtypes.default_float(), aval.weak_type) for x in out]
    return out


def promote_joined(name: str, arrays):
    """The operands of a join (concatenate, stack) as arrays of one dtype."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"{name} needs at least one array to join")
    check_array_like(name, *arrays)
    dtype, weak = result_dtype(*arrays)
    return [to_dtype(asarray_value(a), dtype, weak) for a in arrays]


def promote_dtypes_inexact(name: str, *args):
    """The operands as arrays of one inexact dtype (ints become the default float), each
    keeping its own shape (JAX's promote_dtypes_inexact)."""
    arrays = promote_joined(name, args)
    if not dtypes.is_inexact(arrays[0].dtype):
        arrays = [lax.convert_element_type(a, dtypes.default_float(), False) for a in arrays]
    return arrays


def stack(arrays, axis=0, dtype=None):
    """numpy.stack. It lives here, not with the other joins in _shape, because asarray_value
    stacks the lists that hold arrays or tracers."""
    arrays = promote_joined("stack", arrays)
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"all input arrays must have the same shape, got "
                         f"{', '.join(str(shape_of(a)) for a in arrays)}")
    ax = canonicalize_axis(axis, len(shape_of(arrays[0])) + 1)
    joined = [lax.expand_dims(a, (ax,)) for a in arrays]
    if dtype is not None:
        joined = [lax.convert_element_type(a, np.dtype(dtype)) for a in joined]
    return lax.concatenate(joined, ax)


def asarray_value(x, dtype=None):
    """An Array or tracer for any array-like (nested lists included)."""
    if isinstance(x, (Array, Tracer)):
        return x if dtype is None else to_dtype(x, dtypes.canonicalize(dtype))
    if isinstance(x, (list, tuple)) and any(isinstance(e, (Array, Tracer)) for e in _flatten(x)):
        return stack([asarray_value(e, dtype) for e in x])
    if dtype is None and isinstance(x, (bool, int, float, complex)):
        return make_array(x)
    host = np.asarray(x, dtype=None if dtype is None else dtypes.canonicalize(dtype))
    if host.dtype == object:
        raise TypeError(f"cannot convert {x!r:.60} to an array")
    return make_array(host.astype(dtypes.canonicalize(host.dtype)))


def _flatten(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def canonicalize_axis(axis, ndim: int) -> int:
    """`axis` in [0, ndim), accepting NumPy's negative axes; a clear error otherwise."""
    import operator
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def canonicalize_axes(axis, ndim: int) -> tuple:
    """A sorted tuple of distinct axes; None means all of them."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(canonicalize_axis(a, ndim) for a in (axis if isinstance(axis, (tuple, list))
                                                       else (axis,)))
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(axes))


def ndim_of(x) -> int:
    return core.get_aval(x).ndim


def shape_of(x) -> tuple:
    return core.get_aval(x).shape


def dtype_of(x):
    return core.get_aval(x).dtype
