"""jax.numpy's set functions: isin (traceable), and intersect1d, union1d, setdiff1d, setxor1d and
the array API's unique_all/counts/inverse/values, built on unique (concrete inputs, or a static
`size` where unique allows one)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, shape_of
from spmd.numpy._reductions import any as any_
from spmd.numpy._selection import unique


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """Whether each element is among test_elements (a broadcast comparison; traceable)."""
    x, tests = asarray_value(element), sh.ravel(asarray_value(test_elements))
    hits = uf.equal(sh.expand_dims(x, -1), sh.reshape(tests, (1,) * len(shape_of(x))
                                                       + shape_of(tests)))
    found = any_(hits, axis=-1)
    return uf.logical_not(found) if invert else found


def _values(name, a):
    """The flattened values; set operations need them concrete (their size depends on them)."""
    x = asarray_value(a)
    if hasattr(x, "to_concrete"):
        x.to_concrete(f"{name} (its result's size depends on the values)")
    return np.asarray(x).ravel()


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):
    """The sorted values found in both arrays (concrete inputs)."""
    a, b = _values("intersect1d", ar1), _values("intersect1d", ar2)
    out = np.intersect1d(a, b, assume_unique, return_indices)
    if return_indices:
        values, i1, i2 = out
        return (unique(values, size=size, fill_value=fill_value), asarray_value(i1),
                asarray_value(i2))
    return unique(out, size=size, fill_value=fill_value)


def union1d(ar1, ar2, *, size=None, fill_value=None):
    return unique(np.union1d(_values("union1d", ar1), _values("union1d", ar2)), size=size,
                  fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    return unique(np.setdiff1d(_values("setdiff1d", ar1), _values("setdiff1d", ar2),
                               assume_unique), size=size, fill_value=fill_value)


def setxor1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    return unique(np.setxor1d(_values("setxor1d", ar1), _values("setxor1d", ar2), assume_unique),
                  size=size, fill_value=fill_value)


class UniqueAllResult(NamedTuple):
    values: object
    indices: object
    inverse_indices: object
    counts: object


class UniqueCountsResult(NamedTuple):
    values: object
    counts: object


class UniqueInverseResult(NamedTuple):
    values: object
    inverse_indices: object


def _no_size(name, size):
    if size is not None:
        raise NotImplementedError(f"{name} with size= is not supported by spmd; call it on "
                                  "concrete values, or use unique_values(x, size=...)")


def unique_all(x, /, *, size=None, fill_value=None):
    _no_size("unique_all", size)
    """The array API's unique_all: values, first indices, inverse (x's shape) and counts."""
    values, indices, inverse, counts = unique(x, True, True, True, equal_nan=False)
    inverse = sh.reshape(inverse, shape_of(asarray_value(x)))
    return UniqueAllResult(values, indices, inverse, counts)


def unique_counts(x, /, *, size=None, fill_value=None):
    _no_size("unique_counts", size)
    values, counts = unique(x, return_counts=True, equal_nan=False)
    return UniqueCountsResult(values, counts)


def unique_inverse(x, /, *, size=None, fill_value=None):
    _no_size("unique_inverse", size)
    values, inverse = unique(x, return_inverse=True, equal_nan=False)
    return UniqueInverseResult(values, sh.reshape(inverse, shape_of(asarray_value(x))))


def unique_values(x, /, *, size=None, fill_value=None):
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)
