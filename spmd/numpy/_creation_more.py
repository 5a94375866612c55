"""More of jax.numpy's array creation: logspace, geomspace, fromfunction and the NumPy readers
(frombuffer, fromstring, fromiter, from_dlpack), whose results become spmd arrays."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, promote_to_inexact
from spmd.numpy._creation import indices, linspace
from spmd.transforms import core, dtypes, lax


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop, num)."""
    exponents = linspace(start, stop, num, endpoint, axis=axis)
    out = uf.power(*promote_to_inexact("logspace", base, exponents))
    return out if dtype is None else lax.convert_element_type(out, dtypes.canonicalize(dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Numbers spaced evenly on a log scale between start and stop (which share a sign)."""
    start, stop = promote_to_inexact("geomspace", start, stop)
    if not isinstance(start, core.Tracer) and not isinstance(stop, core.Tracer) and (
            np.any(np.asarray(start) == 0) or np.any(np.asarray(stop) == 0)):
        raise ValueError("geomspace: start and stop must be non-zero")
    sign = uf.sign(start)
    logs = linspace(uf.log10(uf.multiply(start, sign)), uf.log10(uf.multiply(stop, sign)), num,
                    endpoint, axis=axis)
    out = uf.multiply(sign, uf.power(10.0, logs))
    # the ends exactly, as NumPy
    out = out.at[(slice(None),) * axis + (0,)].set(start)
    if endpoint and num > 1:
        out = out.at[(slice(None),) * axis + (-1,)].set(stop)
    return out if dtype is None else lax.convert_element_type(out, dtypes.canonicalize(dtype))


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """function(*index_grids): the function is called once, on arrays of the indices."""
    return function(*indices(shape, dtype=dtype), **kwargs)


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    return asarray_value(np.frombuffer(buffer, dtype, count, offset))


def fromstring(string, dtype=float, count=-1, *, sep):
    return asarray_value(np.fromstring(string, dtype, count, sep=sep))


def fromiter(iterable, dtype, count=-1, *, like=None):
    return asarray_value(np.fromiter(iterable, dtype, count))


def from_dlpack(x, /, *, device=None, copy=None):
    """An spmd array of a DLPack-exporting array's values (copied to the device)."""
    return asarray_value(np.from_dlpack(x))
