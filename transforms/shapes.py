"""ShapeDtypeStruct and eval_shape, as in JAX: a value's type without its data, and a
function's output types found by tracing it (no computation runs).

A ShapeDtypeStruct stands for an array wherever only the type matters: as an argument of
eval_shape, and of jit(f).lower / pmap(f).lower, which compile for it without data.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.core import ShapedArray
from spmd.transforms.staging import trace_to_jaxpr


class ShapeDtypeStruct:
    """The shape, dtype and weak type of an array. `sharding` is kept as given (spmd places
    arrays with jit and pmap, not with shardings) and compared, as JAX compares it."""
    __slots__ = ("shape", "dtype", "sharding", "weak_type")

    def __init__(self, shape, dtype, *, sharding=None, weak_type=False):
        if dtype is None:
            raise ValueError("ShapeDtypeStruct: dtype must be specified.")
        object.__setattr__(self, "shape", tuple(int(d) for d in shape))
        object.__setattr__(self, "dtype", np.dtype(dtype))
        object.__setattr__(self, "sharding", sharding)
        object.__setattr__(self, "weak_type", bool(weak_type))

    def __setattr__(self, name, value):
        raise AttributeError(f"ShapeDtypeStruct is immutable: cannot set {name}; make a new one "
                             "with ShapeDtypeStruct(shape, dtype, ...)")

    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    ndim = property(lambda self: len(self.shape))

    @classmethod
    def like(cls, x) -> "ShapeDtypeStruct":
        aval = _aval_of(x)
        return cls(aval.shape, aval.dtype, weak_type=aval.weak_type)

    def update(self, **changes) -> "ShapeDtypeStruct":
        fields = dict(shape=self.shape, dtype=self.dtype, sharding=self.sharding,
                      weak_type=self.weak_type)
        fields.update(changes)
        return ShapeDtypeStruct(fields.pop("shape"), fields.pop("dtype"), **fields)

    def _key(self):
        return (self.shape, self.dtype, self.sharding, self.weak_type)

    def __eq__(self, other):
        return type(other) is ShapeDtypeStruct and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        extra = (f", sharding={self.sharding}" if self.sharding is not None else "") + (
            ", weak_type=True" if self.weak_type else "")
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{extra})"

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]


core.pytype_aval_mappings[ShapeDtypeStruct] = lambda s: ShapedArray(
    s.shape, dtypes.canonicalize(s.dtype), s.weak_type)
# An abstract value is its own type: lower() takes ShapedArrays as JAX's does.
core.pytype_aval_mappings[ShapedArray] = lambda a: a


def _aval_of(x) -> ShapedArray:
    """The type of an argument of eval_shape: any array, or anything with shape and dtype."""
    if type(x) in core.pytype_aval_mappings or isinstance(x, (core.Tracer, np.ndarray,
                                                              np.generic, bool, int, float,
                                                              complex)):
        return core.get_aval(x)
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # duck-typed, as JAX allows
        return ShapedArray(x.shape, dtypes.canonicalize(x.dtype))
    return core.get_aval(x)  # raises its error for anything else


def eval_shape(fun: Callable, *args, **kwargs):
    """The output types of `fun(*args, **kwargs)` as a pytree of ShapeDtypeStructs, found by
    tracing: nothing is computed. Arguments may be arrays, scalars or ShapeDtypeStructs (or
    anything with `shape` and `dtype`), in any pytree; shape errors are those of the call."""
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    out_tree_box = []

    def flat_fun(*flat):
        call_args, call_kwargs = tree_util.tree_unflatten(in_tree, flat)
        out_leaves, out_tree = tree_util.tree_flatten(fun(*call_args, **call_kwargs))
        out_tree_box.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, [_aval_of(x) for x in leaves])
    return tree_util.tree_unflatten(out_tree_box[0], [
        ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in closed.jaxpr.out_avals])
