"""Python operators on spmd.Array and on tracers, as NumPy functions (installed at import)."""
from __future__ import annotations

import sys

from spmd.numpy import (_bit_views, _creation, _diagonals, _indexing, _linalg, _misc_more,
                        _reductions, _selection, _shape, _shape_more, _statistics,
                        _ufuncs as uf)
from spmd.numpy._core import is_array_like


def _swap(fn):
    return lambda self, other: fn(other, self)


def _defer_to_others(fn):
    """Return NotImplemented for operands NumPy-style functions cannot take (lists, strings...)
    so Python tries the other operand's method."""
    def method(self, other):
        if not is_array_like(other) and not hasattr(other, "__jax_array__"):
            return NotImplemented
        return fn(self, other)
    return method


_BINARY = {
    "add": uf.add, "sub": uf.subtract, "mul": uf.multiply, "truediv": uf.divide,
    "floordiv": uf.floor_divide, "mod": uf.remainder, "pow": uf.power, "and": uf.bitwise_and,
    "or": uf.bitwise_or, "xor": uf.bitwise_xor, "lshift": uf.left_shift,
    "rshift": uf.right_shift,
}
_COMPARE = {"eq": uf.equal, "ne": uf.not_equal, "lt": uf.less, "le": uf.less_equal,
            "gt": uf.greater, "ge": uf.greater_equal}
# The array methods: each is the spmd.numpy function of its name (flatten is ravel).
_METHODS = {
    **{name: getattr(_reductions, name) for name in (
        "sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin", "all", "any",
        "cumsum", "cumprod", "ptp")},
    **{name: getattr(_shape, name) for name in (
        "reshape", "transpose", "squeeze", "ravel", "swapaxes", "repeat")},
    "flatten": _shape.ravel,
    **{name: getattr(_selection, name) for name in ("clip", "sort", "argsort", "nonzero")},
    **{name: getattr(uf, name) for name in ("round", "conj", "conjugate")},
    "astype": _creation.astype, "copy": _creation.copy, "dot": _linalg.dot,
    "take": _indexing.take, "trace": _diagonals.trace, "diagonal": _diagonals.diagonal,
    "view": _bit_views.view, "byteswap": _bit_views.byteswap,
    "argpartition": _misc_more.argpartition, "choose": _shape_more.choose,
    "searchsorted": _statistics.searchsorted,
    # the array is compress's second argument, as in NumPy's method
    "compress": lambda self, condition, *args, **kwargs: _shape_more.compress(
        condition, self, *args, **kwargs),
}


def _flat(self):
    raise NotImplementedError("spmd arrays do not implement the arr.flat property (as JAX "
                              "arrays): consider arr.flatten() instead.")


def _to_device(self, device, *, stream=None):
    if stream is not None:
        raise NotImplementedError("stream argument of array.to_device()")
    from spmd.transfers import device_put  # (spmd.transfers is above spmd.numpy)
    return device_put(self, device)


def _array_namespace(self, *, api_version=None):
    return sys.modules[__package__]  # spmd.numpy, this module's package (imported by now)


def install(cls):
    for name, fn in _BINARY.items():
        setattr(cls, f"__{name}__", _defer_to_others(fn))
        setattr(cls, f"__r{name}__", _defer_to_others(_swap(fn)))
    for name, fn in _COMPARE.items():
        setattr(cls, f"__{name}__", _defer_to_others(fn))
    cls.__neg__ = lambda self: uf.negative(self)
    cls.__pos__ = lambda self: self
    cls.__abs__ = lambda self: uf.absolute(self)
    cls.__invert__ = lambda self: uf.invert(self)
    cls.__matmul__ = _defer_to_others(lambda a, b: _linalg.matmul(a, b))
    cls.__rmatmul__ = _defer_to_others(lambda a, b: _linalg.matmul(b, a))
    cls.__divmod__ = _defer_to_others(lambda a, b: (uf.floor_divide(a, b), uf.remainder(a, b)))
    cls.__rdivmod__ = _defer_to_others(lambda a, b: (uf.floor_divide(b, a), uf.remainder(b, a)))
    cls.__round__ = lambda self, ndigits=None: uf.round(self, ndigits or 0)
    for name, fn in _METHODS.items():
        setattr(cls, name, _method(name, fn))
    cls.T = property(lambda self: _shape.transpose(self))
    cls.mT = property(lambda self: _shape.swapaxes(self, -1, -2))
    cls.real = property(lambda self: uf.real(self))
    cls.imag = property(lambda self: uf.imag(self))
    cls.at = property(lambda self: _indexing.IndexUpdateHelper(self))
    cls.flat = property(_flat)
    cls.to_device = _to_device
    cls.__array_namespace__ = _array_namespace
    cls.__getitem__ = _getitem
    cls.__setitem__ = _immutable


def _getitem(self, idx):
    # x[i] of a pmap result is device i's part, read from that device without an indexing program
    if type(idx) is int and getattr(self, "is_sharded", False):
        return self.shard(idx)
    return _indexing.getitem(self, idx)


def _immutable(self, idx, value):
    # JAX's words, which JAX users search for
    raise TypeError("spmd arrays are immutable and do not support in-place item assignment. "
                    "Instead of x[idx] = y, use x = x.at[idx].set(y) or another .at[] method "
                    "(.add, .multiply, .min, .max, .get).")


def _method(name, fn):
    def method(self, *args, **kwargs):
        if name == "reshape" and args and not isinstance(args[0], (tuple, list)) and len(args) > 1:
            args = (args,)
        if name == "transpose" and len(args) > 1:
            args = (args,)
        return fn(self, *args, **kwargs)
    method.__name__ = name
    return method
