"""Names jax.numpy takes from NumPy itself (type hierarchy classes, printing, saving) and the
dtype questions: can_cast, promote_types (JAX's lattice) and isdtype (the array API's kinds)."""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import asarray_value
from spmd.transforms import dtypes

# taken from NumPy, as JAX does
from numpy import (array_repr, array_str, character, euler_gamma, flexible, generic,  # noqa: F401
                   get_printoptions, object_, printoptions, save, savez, set_printoptions)

ComplexWarning = np.exceptions.ComplexWarning


def load(file, *args, **kwargs):
    """numpy.load; a .npy file's array comes back as an spmd array (npz archives as NumPy's)."""
    out = np.load(file, *args, **kwargs)
    return asarray_value(out) if isinstance(out, np.ndarray) and out.dtype != object else out


def can_cast(from_, to, casting="safe"):
    """numpy.can_cast between dtypes (an array stands for its dtype)."""
    if isinstance(from_, np.ndarray) or hasattr(from_, "aval"):
        from_ = from_.dtype
    return bool(np.can_cast(np.dtype(from_), np.dtype(to), casting))


def promote_types(a, b):
    """The dtype a and b promote to, by JAX's rules (int8 and uint8 give int16, bfloat16 and
    float16 give float32, ints with floats keep the float's width)."""
    return dtypes.promote_types(a, b)


_KINDS = {
    "bool": lambda d: d == np.bool_,
    "signed integer": lambda d: dtypes.issubdtype(d, np.signedinteger),
    "unsigned integer": lambda d: dtypes.issubdtype(d, np.unsignedinteger),
    "integral": lambda d: dtypes.issubdtype(d, np.integer),
    "real floating": lambda d: dtypes.issubdtype(d, np.floating),
    "complex floating": lambda d: dtypes.issubdtype(d, np.complexfloating),
    "numeric": lambda d: dtypes.issubdtype(d, np.number),
}


def isdtype(dtype, kind):
    """The array API's test: is `dtype` of `kind` (a name in its list, a dtype, or a tuple of
    these)?"""
    dtype = np.dtype(dtype)
    for k in kind if isinstance(kind, tuple) else (kind,):
        if isinstance(k, str):
            if k not in _KINDS:
                raise ValueError(f"isdtype: unrecognized kind {k!r}; expected one of "
                                 f"{list(_KINDS)} or a dtype")
            if _KINDS[k](dtype):
                return True
        else:
            try:
                if dtype == np.dtype(k):
                    return True
            except TypeError:
                raise TypeError(f"isdtype: kind must be a dtype, a string or a tuple of them, "
                                f"got {k!r}") from None
    return False
