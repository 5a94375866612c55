"""Cumulative reductions along one axis: cumsum, cumprod, cummax, cummin, cumlogsumexp.

Each is one primitive (a program shows `cumsum[axis=0 reverse=False]`), lowered to a
work-efficient associative scan written with slices: O(n) combines in O(log n) steps, where a
reduce_window as long as the axis costs O(n^2) on XLA's CPU and GPU backends (JAX makes the same
choice there). The JVPs of the non-linear ones are the JVPs of that scan, so zeros in cumprod and
ties in cummax follow the elementwise rules; cumsum is linear and its transpose is the cumsum
running the other way.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import Zero, deflinear, jvp_flat, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.slicing import concatenate, pad, rev, scalar, slice_in_dim
from spmd.transforms.lax.reductions import reduce_prod_p, reduce_sum_p
from spmd.transforms.lax.structural import canonical_axis, expand_dims, reshape, transpose
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear


# ---------------------------------------------------------------- the scan
def _logaddexp(a, b):
    """log(exp(a) + exp(b)) without overflow; where a - b is NaN (both infinite of one sign,
    or a NaN operand) a + b gives the right answer (-inf, inf or NaN)."""
    big = ew.max(a, b)
    delta = ew.sub(a, b)
    safe = ew.add(big, ew.log1p(ew.exp(ew.neg(ew.abs_p.bind(delta)))))
    return ew.select(ew.ne(delta, delta), ew.add(a, b), safe)


def _interleave(evens, odds, axis: int, n: int):
    """evens[0], odds[0], evens[1], ... along `axis` (n elements in all), exactly for every
    dtype: stack the two along a new axis and merge it into `axis`."""
    if core.get_aval(odds).shape[axis] < core.get_aval(evens).shape[axis]:
        config = [(0, 0, 0)] * core.get_aval(odds).ndim
        config[axis] = (0, 1, 0)
        odds = pad(odds, scalar(0, core.get_aval(odds).dtype), config)
    pairs = concatenate([expand_dims(evens, (axis + 1,)), expand_dims(odds, (axis + 1,))], axis + 1)
    shape = list(core.get_aval(evens).shape)
    shape[axis] *= 2
    return slice_in_dim(reshape(pairs, tuple(shape)), 0, n, 1, axis)


def associative_scan(combine, x, axis: int):
    """Inclusive prefix combine along `axis`: out[i] = x[0] (+) x[1] (+) ... (+) x[i] for an
    associative `combine(earlier, later)`."""
    return scan_leaves(lambda a, b: [combine(a[0], b[0])], [x], axis)[0]


def scan_leaves(combine, xs: list, axis: int) -> list:
    """associative_scan over several arrays scanned together (the leaves of a pytree), with
    `combine(earlier_leaves, later_leaves) -> leaves`. Combine neighbours pairwise, scan the
    half-length result (the odd positions), then fill in the even positions."""
    n = core.get_aval(xs[0]).shape[axis]
    if n < 2:
        return list(xs)

    def every_other(start, stop, leaves=xs):
        return [slice_in_dim(x, start, stop, 2, axis) for x in leaves]
    odds = scan_leaves(combine, combine(every_other(0, n - 1), every_other(1, n)), axis)
    rest = every_other(2, n)  # x[2], x[4], ...
    n_rest = core.get_aval(rest[0]).shape[axis]
    before = [slice_in_dim(o, 0, n_rest, 1, axis) for o in odds]
    evens = [concatenate([slice_in_dim(x, 0, 1, 1, axis), c], axis)
             for x, c in zip(xs, combine(before, rest))]
    return [_interleave(e, o, axis, n) for e, o in zip(evens, odds)]


def _cumulative(combine):
    def fn(x, *, axis, reverse):
        if reverse:
            return rev(associative_scan(combine, rev(x, (axis,)), axis), (axis,))
        return associative_scan(combine, x, axis)
    return fn


# ---------------------------------------------------------------- the primitives
def _cumulative_aval(name, float_only):
    def rule(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise ValueError(f"{name}: axis {axis} is out of bounds for an array of shape "
                             f"{x.shape}")
        ok = dtypes.is_float(x.dtype) if float_only else (
            x.dtype != np.bool_ and (dtypes.is_inexact(x.dtype) or dtypes.is_integer(x.dtype)))
        if not ok:
            accepted = "floating-point types" if float_only else "subtypes of number"
            raise TypeError(f"{name} does not accept dtype {x.dtype}. Accepted dtypes are "
                            f"{accepted}.")
        return x
    return rule


def _cumulative_batch(prim):
    def rule(frame, args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return prim.bind(x, axis=axis + (d <= axis), reverse=reverse), d
    return rule


def _scan_jvp(fn):
    """The JVP of the scan itself: the combine's JVP rules handle zeros and ties."""
    def rule(primals, tangents, *, axis, reverse):
        outs, touts = jvp_flat(lambda x: [fn(x, axis=axis, reverse=reverse)], primals, tangents)
        return outs[0], touts[0]
    return rule


def _declare(name, combine, float_only=False) -> Primitive:
    prim = Primitive(name)
    fn = _cumulative(combine)
    prim.def_abstract_eval(_cumulative_aval(name, float_only))
    lowering_rules[prim] = lower_fun(fn)
    batching_rules[prim] = _cumulative_batch(prim)
    jvp_rules[prim] = _scan_jvp(fn)
    return prim


cumsum_p = _declare("cumsum", ew.add)
cumprod_p = _declare("cumprod", ew.mul)
cummax_p = _declare("cummax", ew.max)
cummin_p = _declare("cummin", ew.min)
cumlogsumexp_p = _declare("cumlogsumexp", _logaddexp, float_only=True)
deflinear(cumsum_p)
deftranspose_linear(cumsum_p, lambda ct, x, *, axis, reverse: cumsum_p.bind(
    ct, axis=axis, reverse=not reverse))


# ---------------------------------------------------------------- wrappers
def _bind(prim, operand, axis, reverse):
    axis = canonical_axis(axis, core.get_aval(operand).ndim, prim.name)
    return prim.bind(operand, axis=axis, reverse=bool(reverse)), axis


def _exclusive(out, axis: int, reverse: bool, identity):
    """Shift the inclusive result by one place, filling with the identity: out[i] then combines
    the elements strictly before i (strictly after, when reverse)."""
    aval = core.get_aval(out)
    config = [(0, 0, 0)] * aval.ndim
    config[axis] = (-1, 1, 0) if reverse else (1, -1, 0)
    return pad(out, scalar(identity, aval.dtype), config)


def cumsum(operand, axis=0, reverse=False, *, exclusive=False):
    """Cumulative sum along `axis` (lax.cumsum); `exclusive` leaves each element out of its own
    sum."""
    out, axis = _bind(cumsum_p, operand, axis, reverse)
    return _exclusive(out, axis, reverse, 0) if exclusive else out


def cumprod(operand, axis=0, reverse=False, *, exclusive=False):
    """Cumulative product along `axis` (lax.cumprod); `exclusive` leaves each element out of its
    own product (what reduce_prod's JVP uses to stay exact when the input has zeros)."""
    out, axis = _bind(cumprod_p, operand, axis, reverse)
    return _exclusive(out, axis, reverse, 1) if exclusive else out


def cummax(operand, axis=0, reverse=False):
    return _bind(cummax_p, operand, axis, reverse)[0]


def cummin(operand, axis=0, reverse=False):
    return _bind(cummin_p, operand, axis, reverse)[0]


def cumlogsumexp(operand, axis=0, reverse=False):
    return _bind(cumlogsumexp_p, operand, axis, reverse)[0]


# ---------------------------------------------------------------- reduce_prod's JVP
# (here, not in reductions.py, because it takes exclusive products with cumprod)
def _reduce_prod_jvp(primals, tangents, *, axes):
    """d prod(x) = sum_i t_i * prod_{j != i} x_j, with the products excluding i computed without
    division (so zeros in x are handled): move the reduced axes to the front, flatten them, and
    take exclusive prefix and suffix products."""
    (x,), (t,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    if type(t) is Zero:
        return out, Zero(core.get_aval(out))
    shape = core.get_aval(x).shape
    kept = [i for i in range(len(shape)) if i not in axes]
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    perm = tuple(axes) + tuple(kept)
    flat_shape = (n,) + tuple(shape[i] for i in kept)
    xf = reshape(transpose(x, perm), flat_shape)
    tf = reshape(transpose(t, perm), flat_shape)
    before = cumprod(xf, axis=0, exclusive=True)
    after = cumprod(xf, axis=0, exclusive=True, reverse=True)
    return out, reduce_sum_p.bind(ew.mul(tf, ew.mul(before, after)), axes=(0,))


jvp_rules[reduce_prod_p] = _reduce_prod_jvp
