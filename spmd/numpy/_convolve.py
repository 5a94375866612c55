"""numpy.convolve and numpy.correlate of 1-D arrays, as one lax convolution each (as JAX: the
operands promote to an inexact dtype unless preferred_element_type is given)."""
from __future__ import annotations

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import dtype_of, shape_of, to_dtype
from spmd.numpy._linalg import promote_operands
from spmd.transforms import dtypes, lax

_MODES = ("full", "same", "valid")


def _sliding(name, a, v, mode, precision, preferred_element_type):
    a, v = promote_operands(name, a, v)
    if len(shape_of(a)) != 1 or len(shape_of(v)) != 1:
        raise ValueError(f"{name}() only supports 1-dimensional inputs, got shapes "
                         f"{shape_of(a)} and {shape_of(v)}")
    if not shape_of(a)[0] or not shape_of(v)[0]:
        raise ValueError(f"{name}: inputs cannot be empty, got shapes {shape_of(a)} and "
                         f"{shape_of(v)}")
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {list(_MODES)}, got {mode!r}")
    if preferred_element_type is None and not dtypes.is_inexact(dtype_of(a)):
        a, v = to_dtype(a, dtypes.default_float()), to_dtype(v, dtypes.default_float())
    reverse = False
    if name == "correlate":
        v = uf.conjugate(v)
    if shape_of(a)[0] < shape_of(v)[0]:  # slide the shorter one; correlate's order then flips
        a, v, reverse = v, a, name == "correlate"
    if name == "convolve":
        v = lax.rev(v, (0,))
    k = shape_of(v)[0]
    padding = {"full": (k - 1, k - 1), "same": (k // 2, k - k // 2 - 1), "valid": (0, 0)}[mode]
    row = lambda x: lax.reshape(x, (1, 1, shape_of(x)[0]))  # noqa: E731  (batch 1, feature 1)
    out = lax.conv_general_dilated(row(a), row(v), (1,), [padding], precision=precision,
                                   preferred_element_type=preferred_element_type)
    out = lax.reshape(out, shape_of(out)[2:])
    return lax.rev(out, (0,)) if reverse else out


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of two 1-D arrays (numpy.convolve)."""
    return _sliding("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation of two 1-D arrays, v conjugated (numpy.correlate)."""
    return _sliding("correlate", a, v, mode, precision, preferred_element_type)
