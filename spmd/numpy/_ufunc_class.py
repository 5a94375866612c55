"""jax.numpy.ufunc and frompyfunc: a scalar Python function lifted to arrays (by vectorize),
with NumPy's ufunc methods reduce, accumulate, at, outer and reduceat for binary functions.
The methods fold with Python loops over the reduced axis (unrolled under jit), so they suit
short axes; the built-in reductions (sum, cumsum, ...) are the fast path."""
from __future__ import annotations

import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy._core import asarray_value, canonicalize_axis, check_array_like, dtype_of, \
    shape_of
from spmd.numpy._creation import full
from spmd.numpy._misc_more import vectorize
from spmd.numpy._selection import where as _where
from spmd.transforms.api import vmap

_AT_INPLACE_MESSAGE = (
    "Because JAX arrays are immutable, jnp.ufunc.at() cannot operate inplace like "
    "np.ufunc.at(). Instead, you can pass inplace=False and capture the result; e.g. "
    ">>> arr = jnp.add.at(arr, ind, val, inplace=False)")


class ufunc:  # noqa: N801  (NumPy's and JAX's name)
    """A function of `nin` scalars giving `nout` scalars, applied elementwise with broadcasting;
    `identity` is the value a reduction over nothing gives."""

    def __init__(self, func, /, nin, nout, *, name=None, nargs=None, identity=None):
        self.__doc__ = func.__doc__
        self.__name__ = name or func.__name__
        # read-only properties, so that a ufunc stays hashable as a static argument
        self.__props = (func, operator.index(nin), operator.index(nout),
                        operator.index(nargs or nin), identity)

    _func = property(lambda self: self.__props[0])
    nin = property(lambda self: self.__props[1])
    nout = property(lambda self: self.__props[2])
    nargs = property(lambda self: self.__props[3])
    identity = property(lambda self: self.__props[4])

    def __hash__(self):
        return hash((self.__name__,) + self.__props)

    def __eq__(self, other):
        return isinstance(other, ufunc) and (self.__name__,) + self.__props == (
            other.__name__,) + other.__props

    def __repr__(self):
        return f"<jnp.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        check_array_like(self.__name__, *args)
        if out is not None:
            raise NotImplementedError(f"out argument of {self}")
        if where is not None:
            raise NotImplementedError(f"where argument of {self}")
        return vectorize(self._func)(*args)

    def _binary(self, method, out=None):
        if self.nin != 2:
            raise ValueError(f"{method} only supported for binary ufuncs")
        if self.nout != 1:
            raise ValueError(f"{method} only supported for functions returning a single value")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.{method}()")

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False, initial=None,
               where=None):
        """The function folded along `axis` (None: all axes), from `initial` (default: the
        first element, or the identity when masked by `where`)."""
        self._binary("reduce", out)
        check_array_like(f"{self.__name__}.reduce", a)
        arr = asarray_value(a)
        if where is not None:
            where = asarray_value(where)
            if self.identity is None and initial is None:
                raise ValueError(f"reduction operation {self.__name__!r} does not have an "
                                 "identity, so to use a where mask one has to specify 'initial'.")
            if dtype_of(where) != np.bool_:
                raise ValueError(f"where argument must have dtype=bool; got "
                                 f"dtype={dtype_of(where)}")
            where = sh.broadcast_to(where, shape_of(arr))
        dtype = dtype or dtype_of(arr)
        if isinstance(axis, tuple):
            raise NotImplementedError(f"{self.__name__}.reduce over a tuple of axes; reduce one "
                                      "axis at a time")
        ndim = len(shape_of(arr))
        if axis is None:
            kept_shape = (1,) * ndim
            arr = sh.ravel(arr)
            where = None if where is None else sh.ravel(where)
        else:
            axis = canonicalize_axis(axis, ndim)
            kept_shape = shape_of(arr)[:axis] + (1,) + shape_of(arr)[axis + 1:]
            arr = sh.moveaxis(arr, axis, 0)
            where = None if where is None else sh.moveaxis(where, axis, 0)
        arr = arr.astype(dtype)
        if initial is None and where is not None:
            initial = self.identity
        if initial is None:
            if shape_of(arr)[0] == 0:
                raise ValueError(f"zero-size array to reduction operation {self.__name__} "
                                 "which has no identity")
            result, start = arr[0], 1
        else:
            result, start = full(shape_of(arr)[1:], initial, dtype), 0
        for i in range(start, shape_of(arr)[0]):
            step = self(result, arr[i]).astype(dtype)
            result = step if where is None else _where(where[i], step, result)
        return sh.reshape(result, kept_shape) if keepdims else result

    def accumulate(self, a, axis=0, dtype=None, out=None):
        """The running fold along `axis`: out[0] = a[0], out[i] = f(out[i-1], a[i])."""
        self._binary("accumulate", out)
        check_array_like(f"{self.__name__}.accumulate", a)
        if axis is None or isinstance(axis, tuple):
            raise ValueError("accumulate does not allow multiple axes")
        arr = asarray_value(a)
        dtype = dtype or dtype_of(arr)
        axis = canonicalize_axis(axis, len(shape_of(arr)))
        arr = sh.moveaxis(arr, axis, 0).astype(dtype)
        if shape_of(arr)[0] == 0:
            return sh.moveaxis(arr, 0, axis)
        running = [arr[0]]
        for i in range(1, shape_of(arr)[0]):
            running.append(self(running[-1], arr[i]).astype(dtype))
        return sh.moveaxis(sh.stack(running), 0, axis)

    def at(self, a, indices, b=None, /, *, inplace=True):
        """A copy of `a` with a[indices] replaced by f(a[indices], b), repeated indices applied
        one after another (inplace=False is required: arrays are immutable)."""
        if inplace:
            raise NotImplementedError(_AT_INPLACE_MESSAGE)
        a = asarray_value(a)
        index = np.asarray(indices)  # the positions must be concrete, to apply them in order
        item_shape = shape_of(a)[1:]
        args = () if b is None else (
            sh.broadcast_to(asarray_value(b), index.shape + item_shape),)
        flat = index.ravel()
        args = tuple(sh.reshape(x, (flat.size,) + item_shape) for x in args)
        for k, i in enumerate(flat):
            a = a.at[int(i)].set(self(a[int(i)], *(x[k] for x in args)).astype(dtype_of(a)))
        return a

    def outer(self, A, B, /):  # noqa: N803  (NumPy's argument names)
        """f applied to every pair (A's element, B's element): shape A.shape + B.shape."""
        self._binary("outer")
        check_array_like(f"{self.__name__}.outer", A, B)
        A, B = asarray_value(A), asarray_value(B)  # noqa: N806
        pairs = vmap(vmap(self, (None, 0)), (0, None))(sh.ravel(A), sh.ravel(B))
        return sh.reshape(pairs, shape_of(A) + shape_of(B))

    def reduceat(self, a, indices, axis=0, dtype=None, out=None):
        """Reductions of the slices a[indices[i]:indices[i+1]] along `axis` (the last to the
        end); a[indices[i]] alone where indices[i] >= indices[i+1], as in NumPy."""
        self._binary("reduceat", out)
        check_array_like(f"{self.__name__}.reduceat", a, indices)
        arr = asarray_value(a)
        if len(shape_of(arr)) == 0:
            raise ValueError(f"reduceat: a must have 1 or more dimension, got "
                             f"a.shape={shape_of(arr)}")
        index = np.asarray(indices)  # concrete: the slices' lengths shape the program
        if index.ndim != 1:
            raise ValueError(f"reduceat: indices must be one-dimensional, got "
                             f"indices.shape={index.shape}")
        if axis is None or isinstance(axis, (tuple, list)):
            raise ValueError("reduceat requires a single integer axis.")
        axis = canonicalize_axis(axis, len(shape_of(arr)))
        arr = sh.moveaxis(arr, axis, 0)
        ends = list(index[1:]) + [shape_of(arr)[0]]
        parts = [self.reduce(arr[start:end] if start < end else arr[start:start + 1], axis=0,
                             dtype=dtype) for start, end in zip(index, ends)]
        return sh.moveaxis(sh.stack(parts), 0, axis)


def frompyfunc(func, /, nin, nout, *, identity=None):
    """jax.numpy.ufunc wrapper of a function of `nin` scalars returning `nout` values."""
    return ufunc(func, nin, nout, identity=identity)
