"""Sorting: the variadic `sort` primitive (stablehlo.sort), and sort_key_val and argsort built
on it (top_k.py builds top_k on it too).

Order: lexicographic over the first `num_keys` operands; floats in NumPy's order (-0.0 and 0.0
equal, every NaN after every number), complex numbers by real then imaginary part.
The JVP sorts each tangent as an extra operand keyed by the same keys, so the tangents follow the
values without a gather; with the keys known that is linear in the other operands, and its
transpose sorts the cotangents back by the permutation the keys define.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import scalar_region
from spmd.transforms.lax.structural import broadcasted_iota, canonical_axis
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


# ---------------------------------------------------------------- the comparator
def _is_nan(x):
    return ew.ne(x, x)


def _lt_eq(a, b):
    """(a < b, a == b) in sort order, for scalars of one dtype."""
    dtype = core.get_aval(a).dtype
    if dtypes.is_complex(dtype):
        lt_re, eq_re = _lt_eq(ew.real(a), ew.real(b))
        lt_im, eq_im = _lt_eq(ew.imag(a), ew.imag(b))
        return ew.bitwise_or(lt_re, ew.bitwise_and(eq_re, lt_im)), ew.bitwise_and(eq_re, eq_im)
    if dtypes.is_float(dtype):  # NaNs are equal to each other and above everything else
        a_nan, b_nan = _is_nan(a), _is_nan(b)
        lt = ew.bitwise_or(ew.lt(a, b), ew.bitwise_and(ew.bitwise_not(a_nan), b_nan))
        return lt, ew.bitwise_or(ew.eq(a, b), ew.bitwise_and(a_nan, b_nan))
    return ew.lt(a, b), ew.eq(a, b)


def _comparator(num_keys):
    """`less(lhs_0, rhs_0, lhs_1, rhs_1, ...)`: lexicographic over the first num_keys pairs."""
    def less(*pairs):
        keys = [(pairs[2 * i], pairs[2 * i + 1]) for i in range(num_keys)]
        result, _ = _lt_eq(*keys[-1])
        for a, b in reversed(keys[:-1]):
            lt, eq = _lt_eq(a, b)
            result = ew.bitwise_or(lt, ew.bitwise_and(eq, result))
        return [result]
    return less


# ---------------------------------------------------------------- the primitive
def _sort_aval(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("sort needs at least one operand")
    shape = operands[0].shape
    if any(a.shape != shape for a in operands):
        raise TypeError(f"sort: all operands must have one shape, got "
                        f"{', '.join(str(a.shape) for a in operands)}")
    if not 0 <= dimension < len(shape):
        raise ValueError(f"sort: dimension {dimension} is out of range for operands of shape "
                         f"{shape}")
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    return list(operands)


def _sort_lowering(ctx, *operands, dimension, is_stable, num_keys):
    scalars = [ShapedArray((), a.dtype) for a in ctx.in_avals for _ in range(2)]
    region = scalar_region(ctx, _comparator(num_keys), scalars)
    out = ctx.op("stablehlo.sort", list(operands), regions=[region],
                 attrs=f"dimension = {dimension} : i64, is_stable = {str(bool(is_stable)).lower()}")
    return out if len(operands) > 1 else [out]


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    params = dict(dimension=dimension, is_stable=is_stable)
    outs = sort_p.bind(*primals, num_keys=num_keys, **params)
    moving = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    keys = primals[:num_keys]
    sorted_tangents = sort_p.bind(*keys, *[tangents[i] for i in moving], num_keys=num_keys,
                                  **params)[num_keys:]
    touts = [Zero(core.get_aval(o)) for o in outs]
    for i, t in zip(moving, sorted_tangents):
        touts[i] = t
    return outs, touts


def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    keys = operands[:num_keys]
    if any(is_undefined(k) for k in keys):
        raise TypeError("sort is linear only in its non-key operands: the keys decide the "
                        "permutation, so they cannot be linear")
    params = dict(dimension=dimension, is_stable=is_stable)
    live = [i for i in range(num_keys, len(operands))
            if is_undefined(operands[i]) and type(cts[i]) is not Zero]
    result = [None] * len(operands)
    if live:
        shape = core.get_aval(keys[0]).shape
        iota = broadcasted_iota(np.int32, shape, dimension)
        source = sort_p.bind(*keys, iota, num_keys=num_keys, **params)[-1]  # out[i] = in[source[i]]
        back = sort_p.bind(source, *[cts[i] for i in live], dimension=dimension, is_stable=True,
                           num_keys=1)[1:]
        for i, ct in zip(live, back):
            result[i] = ct
    return result


def _sort_batch(axis, args, dims, *, dimension, is_stable, num_keys):
    d = next(d for d in dims if d is not None)
    if all(e == d for e in dims):
        return sort_p.bind(*args, dimension=dimension + (d <= dimension), is_stable=is_stable,
                           num_keys=num_keys), [d] * len(args)
    moved = [bdim_at_front(x, e, axis.size) for x, e in zip(args, dims)]
    return sort_p.bind(*moved, dimension=dimension + 1, is_stable=is_stable,
                       num_keys=num_keys), [0] * len(args)


sort_p = Primitive("sort", multiple_results=True)
sort_p.def_abstract_eval(_sort_aval)
lowering_rules[sort_p] = _sort_lowering
jvp_rules[sort_p] = _sort_jvp
transpose_rules[sort_p] = _sort_transpose
batching_rules[sort_p] = _sort_batch
linear_primitives.add(sort_p)  # in its non-key operands, once the keys are known


# ---------------------------------------------------------------- wrappers
def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort an array, or several arrays of one shape by the first `num_keys` of them
    (lax.sort): a sequence in gives a tuple out."""
    if isinstance(operand, (tuple, list)):
        operands = tuple(operand)
        if not operands:
            raise TypeError("sort needs at least one operand")
    else:
        operands = (operand,)
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    ndim = core.get_aval(operands[0]).ndim
    if ndim == 0:
        raise ValueError("sort needs operands of rank >= 1, got a 0-d array")
    dimension = canonical_axis(dimension, ndim, "sort")
    outs = sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                       num_keys=int(num_keys))
    return tuple(outs) if isinstance(operand, (tuple, list)) else outs[0]


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """Sort `keys` and carry `values` along (lax.sort_key_val)."""
    return sort((keys, values), dimension, is_stable, num_keys=1)


def argsort(operand, dimension=-1, is_stable=True, index_dtype=np.int32):
    """The indices that sort `operand` along `dimension` (ties keep their order when stable)."""
    aval = core.get_aval(operand)
    dimension = canonical_axis(dimension, aval.ndim, "argsort")
    iota = broadcasted_iota(index_dtype, aval.shape, dimension)
    return sort((operand, iota), dimension, is_stable, num_keys=1)[1]

