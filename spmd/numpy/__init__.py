"""spmd.numpy: NumPy's API with JAX's conventions (immutable arrays, `x.at[i].set(v)`, weak
Python scalars), running eagerly on devices or traced under jit/grad/vmap/pmap."""
import numpy as _np

from spmd.missing_names import module_getattr as _module_getattr
from spmd.numpy import _operators
from spmd.numpy._creation import (arange, array, asarray, astype, copy, empty,  # noqa: F401
                                  empty_like, eye, full, full_like, identity, indices, linspace,
                                  meshgrid, ones, ones_like, zeros, zeros_like)
from spmd.numpy._ufuncs import *  # noqa: F401,F403
from spmd.numpy._ufuncs import abs, round  # noqa: F401
from spmd.numpy._elementwise_more import *  # noqa: F401,F403
from spmd.numpy._elementwise_more import divmod, pow  # noqa: F401,A004
from spmd.numpy._reductions import (all, amax, amin, any, argmax, argmin, average,  # noqa: F401
                                    count_nonzero, cumprod, cumsum, cumulative_prod,
                                    cumulative_sum, max, mean, min, nanmax, nanmean, nanmin,
                                    nanprod, nansum, prod, ptp, std, sum, var)
from spmd.numpy._shape import (append, array_split, atleast_1d, atleast_2d,  # noqa: F401
                               atleast_3d, broadcast_arrays, broadcast_to, column_stack, concat,
                               concatenate, diff, dstack, expand_dims, flip, fliplr, flipud,
                               hsplit, hstack, matrix_transpose, moveaxis, ndim, pad, permute_dims,
                               ravel, repeat, reshape, roll, rot90, row_stack, shape, size,
                               split, squeeze, stack, swapaxes, tile, transpose, vsplit, vstack)
from spmd.numpy._shape_more import (apply_along_axis, apply_over_axes, block, choose,  # noqa: F401
                                    compress, delete, dsplit, ediff1d, extract, fill_diagonal,
                                    insert, place, put, put_along_axis, resize, rollaxis,
                                    trim_zeros, unstack)
from spmd.numpy._index_tricks import (c_, diag_indices, diag_indices_from, index_exp,  # noqa: F401
                                      ix_, mask_indices, mgrid, ogrid, r_, ravel_multi_index,
                                      s_, tril_indices, tril_indices_from, triu_indices,
                                      triu_indices_from, unravel_index)
from spmd.numpy._statistics import (bincount, corrcoef, cov, digitize, histogram,  # noqa: F401
                                    histogram_bin_edges, median, nanargmax, nanargmin,
                                    nancumprod, nancumsum, nanmedian, nanpercentile, nanquantile,
                                    nanstd, nanvar, percentile, quantile, searchsorted)
from spmd.numpy._numpy_names import (ComplexWarning, array_repr, array_str,  # noqa: F401
                                     can_cast, character, euler_gamma, flexible, generic,
                                     get_printoptions, isdtype, load, object_, printoptions,
                                     promote_types, save, savez, set_printoptions)
from spmd.numpy._windows import bartlett, blackman, hamming, hanning, kaiser  # noqa: F401
from spmd.numpy._polynomials import (poly, polyadd, polyder, polydiv, polyint,  # noqa: F401
                                     polymul, polysub, polyval, vander)
from spmd.numpy._sets import (intersect1d, isin, setdiff1d, setxor1d, union1d,  # noqa: F401
                              unique_all, unique_counts, unique_inverse, unique_values)
from spmd.numpy._creation_more import (from_dlpack, frombuffer, fromfunction,  # noqa: F401
                                       fromiter, fromstring, geomspace, logspace)
from spmd.numpy._misc_more import (argpartition, cross, gradient, interp, lexsort,  # noqa: F401
                                   matvec, partition, piecewise, sort_complex, trapezoid,
                                   unwrap, vecmat, vectorize)
from spmd.numpy._core import broadcast_shapes, result_dtype as _result_dtype  # noqa: F401
from spmd.numpy._linalg import (dot, inner, kron, matmul, outer, tensordot, vdot,  # noqa: F401
                                vecdot)
from spmd.numpy._einsum import einsum  # noqa: F401
from spmd.numpy._einsum_path_fromfile import einsum_path, fromfile  # noqa: F401
from spmd.numpy._packbits import packbits, unpackbits  # noqa: F401
from spmd.numpy._polynomials_linalg import polyfit, roots  # noqa: F401
from spmd.numpy._histogram_nd import histogram2d, histogramdd  # noqa: F401
from spmd.numpy._ufunc_class import frompyfunc, ufunc  # noqa: F401
from spmd.numpy._convolve import convolve, correlate  # noqa: F401
from spmd.numpy._diagonals import diag, diagflat, diagonal, trace, tri, tril, triu  # noqa: F401
from spmd.numpy._indexing import take, take_along_axis  # noqa: F401
from spmd.numpy._selection import (argsort, argwhere, clip, flatnonzero, nonzero,  # noqa: F401
                                   select, sort, unique, where)
from spmd.numpy._logic import allclose, array_equal, array_equiv, isclose  # noqa: F401
from spmd.numpy import fft, linalg  # noqa: F401  (jax.numpy.fft, jax.numpy.linalg)
from spmd.transforms import dtypes as _dtypes
from spmd.transforms.array import Array as ndarray  # noqa: F401
from spmd.transforms.core import Tracer as _Tracer

from spmd.numpy._scalar_types import *  # noqa: F401,F403
from spmd.numpy._scalar_types import _ScalarMeta, bool  # noqa: F401,A004
dtype = _np.dtype
inf, nan, pi, e, newaxis = _np.inf, _np.nan, _np.pi, _np.e, None
finfo = _dtypes.finfo
iinfo = _np.iinfo
integer, floating, inexact, number, signedinteger, unsignedinteger, complexfloating = (
    _np.integer, _np.floating, _np.inexact, _np.number, _np.signedinteger, _np.unsignedinteger,
    _np.complexfloating)


def issubdtype(arg1, arg2):
    return _dtypes.issubdtype(arg1, arg2)


_PYTHON_TYPES = {bool: True, int: 1, float: 1.0, complex: 1j}  # weakly typed, as their values


def result_type(*args):
    """The dtype NumPy-style promotion gives these arrays, scalars or dtypes (a dtype is strongly
    typed; the Python types int, float and complex are weak, as their values are)."""
    def operand(a):
        if isinstance(a, type) and a in _PYTHON_TYPES:
            return _PYTHON_TYPES[a]
        if isinstance(a, (str, _np.dtype, _ScalarMeta)) or (
                isinstance(a, type) and issubclass(a, _np.generic)):
            return _np.zeros((), _dtypes.canonicalize(a))
        return a
    return _result_dtype(*map(operand, args))[0]


_operators.install(ndarray)
_operators.install(_Tracer)


__getattr__ = _module_getattr("spmd.numpy", "jax.numpy")
