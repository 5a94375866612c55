"""ragged_dot_general: a dot_general whose lhs is cut, along one "ragged" dimension, into groups
of consecutive rows of the sizes `group_sizes` gives (JAX's grouped matmul for mixtures of
experts). Three modes, by the kind of the lhs ragged dimension (as JAX 0.10.2):

1. non-contracting (m): `[b,m,k], [g,b,k,n], [b,g] -> [b,m,n]`, each group of rows of lhs
   multiplies its own rhs (rows past the last group give zeros);
2. contracting (k): `[b,m,k], [b,k,n], [b,g] -> [g,b,m,n]`, one partial product per group;
3. batch (b): `[b,m,k], [b,k,n], [g] -> [b,m,n]`, an ordinary batched product.

`group_sizes` is `[prefix..., g]`, the prefix being the lhs batch dimensions and those of the
ragged dimension's kind that come before it; a 1-D one is broadcast over the prefix. XLA's CPU
has no ragged dot instruction, so the lowering masks each group out of a dense copy and
contracts the group axis with one dot_general (what JAX lowers to without the instruction)."""
from __future__ import annotations

import dataclasses

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, defjvp, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.cumulative import cumsum
from spmd.transforms.lax.dot import (_dot_general_aval, _free, _ranges_like,
                                     canonicalize_precision, dot_general)
from spmd.transforms.lax.structural import (broadcast, broadcast_in_dim, broadcasted_iota,
                                            transpose)
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


@dataclasses.dataclass(frozen=True)
class RaggedDotDimensionNumbers:
    """dot_general's `((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))` plus the one
    lhs ragged dimension and the rhs group dimension (one in mode 1, none otherwise)."""
    dot_dimension_numbers: tuple
    lhs_ragged_dimensions: tuple
    rhs_group_dimensions: tuple

    def __init__(self, dot_dimension_numbers, lhs_ragged_dimensions, rhs_group_dimensions):
        as_ints = lambda dims: tuple(int(d) for d in dims)  # noqa: E731
        object.__setattr__(self, "dot_dimension_numbers",
                           tuple(tuple(as_ints(d) for d in pair) for pair in dot_dimension_numbers))
        object.__setattr__(self, "lhs_ragged_dimensions", as_ints(lhs_ragged_dimensions))
        object.__setattr__(self, "rhs_group_dimensions", as_ints(rhs_group_dimensions))


_RAGGED_DOT = RaggedDotDimensionNumbers((((1,), (1,)), ((), ())), (0,), (0,))
NONCONTRACTING, CONTRACTING, BATCH = "noncontracting", "contracting", "batch"


def _mode(lhs_ndim, dims):
    ragged, = dims.lhs_ragged_dimensions
    (lc, _), (lb, _) = dims.dot_dimension_numbers
    if ragged in lc:
        return CONTRACTING, ragged
    if ragged in lb:
        return BATCH, ragged
    return NONCONTRACTING, ragged


def _prefix(mode, ndim, ragged, batch, contract):
    """The dimensions of the operand that group_sizes carries before its group axis."""
    batch, contract = list(batch), list(contract)
    if mode == NONCONTRACTING:
        free = _free(ndim, contract, batch)
        return batch + free[:free.index(ragged)]
    if mode == CONTRACTING:
        return batch + contract[:contract.index(ragged)]
    return batch[:batch.index(ragged)]


def _check_dim(dim, ndim, what, operand):
    if not 0 <= dim < ndim:
        raise TypeError(f"ragged_dot_general: the {what} must be a dimension of {operand} (rank "
                        f"{ndim}), got {dim}")


def _ragged_dot_general_aval(lhs, rhs, group_sizes, *, ragged_dot_dimension_numbers, precision,
                             preferred_element_type):
    dims = ragged_dot_dimension_numbers
    if len(dims.lhs_ragged_dimensions) != 1:
        raise TypeError("ragged_dot_general expects exactly one lhs ragged dimension, got "
                        f"{list(dims.lhs_ragged_dimensions)}")
    _check_dim(dims.lhs_ragged_dimensions[0], lhs.ndim, "lhs ragged dimension", "lhs")
    if not dtypes.is_integer(group_sizes.dtype):
        raise TypeError(f"ragged_dot_general: group_sizes must have an integer dtype, got "
                        f"{group_sizes.dtype}")
    if group_sizes.ndim == 0:
        raise TypeError("ragged_dot_general: group_sizes must have rank >= 1 (its last axis "
                        "counts the groups), got a 0-d array")
    mode, ragged = _mode(lhs.ndim, dims)
    (lc, rc), (lb, rb) = dims.dot_dimension_numbers
    groups = group_sizes.shape[-1]
    if group_sizes.ndim != 1:
        expected = tuple(lhs.shape[i] for i in _prefix(mode, lhs.ndim, ragged, lb, lc))
        if group_sizes.shape != expected + (groups,):
            raise TypeError(f"ragged_dot_general: expected group_sizes of shape "
                            f"{expected + (groups,)} (or ({groups},)), got {group_sizes.shape}")
    rg = dims.rhs_group_dimensions
    if mode != NONCONTRACTING and rg:
        raise TypeError("ragged_dot_general requires zero group dimensions in the rhs when the "
                        "lhs ragged dimension is contracting or batch")
    if mode == NONCONTRACTING:
        if len(rg) != 1:
            raise TypeError("ragged_dot_general requires exactly one rhs group dimension when "
                            "the lhs ragged dimension is non-contracting")
        _check_dim(rg[0], rhs.ndim, "rhs group dimension", "rhs")
        if rg[0] in rc or rg[0] in rb:
            raise TypeError("ragged_dot_general: the rhs group dimension must differ from the "
                            "contracting and batch dimensions")
        if rhs.shape[rg[0]] != groups:
            raise TypeError(f"ragged_dot_general: the rhs group dimension has size "
                            f"{rhs.shape[rg[0]]}, but group_sizes counts {groups} groups")
    out = _dot_general_aval(lhs, rhs, dimension_numbers=dims.dot_dimension_numbers,
                            precision=precision, preferred_element_type=preferred_element_type)
    shape = list(out.shape)
    if rg:  # the group dimension is contracted with the groups, not kept
        rhs_free = _free(rhs.ndim, rc, rb)
        del shape[len(shape) - len(rhs_free) + rhs_free.index(rg[0])]
    if mode == CONTRACTING:
        shape.insert(0, groups)
    return ShapedArray(tuple(shape), out.dtype, out.weak_type)


def _in_groups(x, dim, group_sizes, prefix):
    """x with a new leading group axis: slice g keeps the rows of group g along `dim` (the
    groups of each position of the `prefix` dimensions, which group_sizes spans first)."""
    aval = core.get_aval(x)
    shape = (core.get_aval(group_sizes).shape[-1],) + tuple(aval.shape)
    ends = cumsum(group_sizes, axis=len(prefix))
    starts = ew.sub(ends, group_sizes)
    # group_sizes' axes land on x's prefix dimensions and the new group axis; XLA wants the
    # dimensions of a broadcast ascending, so its axes are put in that order first
    targets = [1 + p for p in prefix] + [0]
    order = tuple(int(i) for i in np.argsort(targets))
    spread = lambda v: broadcast_in_dim(transpose(v, order), shape,  # noqa: E731
                                        tuple(sorted(targets)))
    row = broadcasted_iota(core.get_aval(group_sizes).dtype, shape, dim + 1)
    mask = ew.bitwise_and(ew.le(spread(starts), row), ew.lt(row, spread(ends)))
    dense = broadcast_in_dim(x, shape, tuple(range(1, len(shape))))
    return ew.select(mask, dense, ew.full(shape, 0, aval.dtype))


def _dense_ragged_dot(lhs, rhs, group_sizes, *, ragged_dot_dimension_numbers, precision,
                      preferred_element_type):
    dims = ragged_dot_dimension_numbers
    lhs_ndim = core.get_aval(lhs).ndim
    mode, ragged = _mode(lhs_ndim, dims)
    (lc, rc), (lb, rb) = dims.dot_dimension_numbers
    up = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    product = lambda a, b, dn: dot_general(a, b, dn, precision,  # noqa: E731
                                           preferred_element_type)
    if mode == BATCH:  # the groups only split a batch dimension: the product is the same
        return product(lhs, rhs, dims.dot_dimension_numbers)
    l_prefix = _prefix(mode, lhs_ndim, ragged, lb, lc)
    if core.get_aval(group_sizes).ndim == 1:
        group_sizes = broadcast(group_sizes, [core.get_aval(lhs).shape[i] for i in l_prefix])
    grouped_lhs = _in_groups(lhs, ragged, group_sizes, l_prefix)
    if mode == NONCONTRACTING:
        return product(grouped_lhs, rhs, ((up(lc) + (0,), rc + dims.rhs_group_dimensions),
                                          (up(lb), rb)))
    rhs_ragged = rc[lc.index(ragged)]
    r_prefix = _prefix(mode, core.get_aval(rhs).ndim, rhs_ragged, rb, rc)
    grouped_rhs = _in_groups(rhs, rhs_ragged, group_sizes, r_prefix)
    return product(grouped_lhs, grouped_rhs, ((up(lc), up(rc)), ((0,) + up(lb), (0,) + up(rb))))


def _ragged_dot_transpose(ct, lhs, rhs, group_sizes, *, ragged_dot_dimension_numbers, precision,
                          preferred_element_type):
    if type(ct) is Zero:
        return [None, None, None]
    dims = ragged_dot_dimension_numbers
    (xc, yc), (xb, yb) = dims.dot_dimension_numbers
    x_aval = lhs.aval if is_undefined(lhs) else core.get_aval(lhs)
    y_aval = rhs.aval if is_undefined(rhs) else core.get_aval(rhs)
    mode, ragged = _mode(x_aval.ndim, dims)
    if mode != NONCONTRACTING:  # JAX 0.10.2 transposes only this mode too
        raise NotImplementedError(f"ragged_dot_general: reverse-mode differentiation is "
                                  f"implemented only for a non-contracting ragged dimension, "
                                  f"not a {mode} one (forward mode works)")
    yg = dims.rhs_group_dimensions
    x_kept = _free(x_aval.ndim, xc, xb)
    y_kept = [d for d in _free(y_aval.ndim, yc, yb) if d not in yg]

    def back(a, b, new_dims, axes, aval):
        # a cotangent of a preferred_element_type wider than the operands: compute in it
        a, b = (v if core.get_aval(v).dtype == core.get_aval(ct).dtype
                else ew.convert_element_type(v, core.get_aval(ct).dtype) for v in (a, b))
        out = ragged_dot_general(a, b, group_sizes, new_dims, precision)
        out = transpose(out, tuple(int(i) for i in np.argsort(axes)))
        return ew.convert_element_type(out, aval.dtype)

    lhs_ct = rhs_ct = None
    if is_undefined(lhs):
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
        new_dims = RaggedDotDimensionNumbers(((ans_y, y_kept), (ans_batch, yb)),
                                             (len(xb) + x_kept.index(ragged),), yg)
        xc_by_y = [xc[i] for i in np.argsort(yc)]
        lhs_ct = back(ct, rhs, new_dims, list(xb) + x_kept + xc_by_y, x_aval)
    if is_undefined(rhs):
        ans_batch, ans_x, _ = _ranges_like(xb, x_kept, y_kept)
        new_dims = RaggedDotDimensionNumbers(((x_kept, ans_x), (xb, ans_batch)), (ragged,), ())
        yc_by_x = [yc[i] for i in np.argsort(xc)]
        rhs_ct = back(lhs, ct, new_dims, list(yg) + list(yb) + yc_by_x + y_kept, y_aval)
    return [lhs_ct, rhs_ct, None]


def _ragged_dot_batch(axis, args, batch_dims, *, ragged_dot_dimension_numbers, precision,
                      preferred_element_type):
    """Every operand gets the mapped axis in front, and it becomes a new leading batch
    dimension of the product (group_sizes first spans its whole prefix, so that its own
    leading axis is the new batch dimension too)."""
    dims = ragged_dot_dimension_numbers
    lhs, rhs, group_sizes = args
    ld, _, gd = batch_dims
    lhs_shape = core.get_aval(lhs).shape
    lhs_shape = lhs_shape if ld is None else lhs_shape[:ld] + lhs_shape[ld + 1:]
    mode, ragged = _mode(len(lhs_shape), dims)
    (lc, rc), (lb, rb) = dims.dot_dimension_numbers
    gs_ndim = core.get_aval(group_sizes).ndim - (gd is not None)
    if gs_ndim == 1:
        prefix = [lhs_shape[i] for i in _prefix(mode, len(lhs_shape), ragged, lb, lc)]
        if gd is not None:
            group_sizes, gd = moveaxis(group_sizes, gd, 0), 0
            sizes = core.get_aval(group_sizes).shape
            group_sizes = broadcast_in_dim(group_sizes, (sizes[0], *prefix, sizes[1]),
                                           (0, len(prefix) + 1))
        else:
            group_sizes = broadcast(group_sizes, prefix)
    lhs, rhs, group_sizes = (bdim_at_front(x, d, axis.size)
                             for x, d in zip((lhs, rhs, group_sizes), (ld, batch_dims[1], gd)))
    up = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    new_dims = RaggedDotDimensionNumbers(((up(lc), up(rc)), ((0,) + up(lb), (0,) + up(rb))),
                                         up(dims.lhs_ragged_dimensions),
                                         up(dims.rhs_group_dimensions))
    out = ragged_dot_general(lhs, rhs, group_sizes, new_dims, precision, preferred_element_type)
    return out, (1 if mode == CONTRACTING else 0)


ragged_dot_general_p = Primitive("ragged_dot_general")
ragged_dot_general_p.def_abstract_eval(_ragged_dot_general_aval)
lowering_rules[ragged_dot_general_p] = lower_fun(_dense_ragged_dot)
defjvp(ragged_dot_general_p,
       lambda t, x, y, gs, **p: ragged_dot_general_p.bind(t, y, gs, **p),
       lambda t, x, y, gs, **p: ragged_dot_general_p.bind(x, t, gs, **p),
       None)
transpose_rules[ragged_dot_general_p] = _ragged_dot_transpose
linear_primitives.add(ragged_dot_general_p)  # in lhs and in rhs, the other one known
batching_rules[ragged_dot_general_p] = _ragged_dot_batch


def ragged_dot_general(lhs, rhs, group_sizes, ragged_dot_dimension_numbers, precision=None,
                       preferred_element_type=None, group_offset=None, out_sharding=None):
    """A dot_general of lhs, cut into groups along its ragged dimension, with rhs (see the
    module docstring for the three modes); `group_offset` is not supported, as in JAX 0.10.2."""
    if group_offset is not None:
        raise NotImplementedError("ragged_dot_general: group_offset is not supported (nor is it "
                                  "in JAX 0.10.2); slice group_sizes and rhs instead")
    if not isinstance(ragged_dot_dimension_numbers, RaggedDotDimensionNumbers):
        raise TypeError("ragged_dot_general: ragged_dot_dimension_numbers must be a "
                        "lax.RaggedDotDimensionNumbers, got "
                        f"{type(ragged_dot_dimension_numbers).__name__}")
    if preferred_element_type is not None:
        preferred_element_type = np.dtype(preferred_element_type)
    return ragged_dot_general_p.bind(lhs, rhs, group_sizes,
                                     ragged_dot_dimension_numbers=ragged_dot_dimension_numbers,
                                     precision=canonicalize_precision(precision),
                                     preferred_element_type=preferred_element_type)


def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
    """Grouped matmul: lhs (m, k) in consecutive groups of rows of `group_sizes` (g,), group i
    times rhs[i] (rhs is (g, k, n)); rows past the last group give zeros. Result (m, n)."""
    return ragged_dot_general(lhs, rhs, group_sizes, _RAGGED_DOT, precision,
                              preferred_element_type, group_offset)
