"""select_n: cases[which] elementwise, JAX's `select_n_p` (the n-way select lax.select is the
two-case form of). `which` is boolean (two cases at most: False picks cases[0]) or an integer
in [0, len(cases)), a scalar or of the cases' shape.

XLA has a two-way select only: the lowering is a chain of them. Linear in the cases (which is
known): the JVP selects among the tangents, the transpose sends the cotangent to the case each
element came from."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


def _select_n_aval(which, *cases):
    if not cases:
        raise ValueError("select_n needs at least one case")
    first = cases[0]
    if any((c.shape, c.dtype) != (first.shape, first.dtype) for c in cases):
        raise TypeError("select_n: all cases must have the same shape and dtype, got "
                        f"{[(c.shape, str(c.dtype)) for c in cases]}")
    if which.shape not in ((), first.shape):
        raise TypeError(f"select_n: which must be a scalar or have the cases' shape "
                        f"{first.shape}, got shape {which.shape}")
    is_bool = which.dtype == np.bool_
    if not (is_bool or dtypes.is_integer(which.dtype)):
        raise TypeError(f"select_n: which must be a boolean or integer array, got {which.dtype}")
    if is_bool and len(cases) > 2:
        raise TypeError(f"select_n: a boolean which selects between at most 2 cases, got "
                        f"{len(cases)}")
    return ShapedArray(first.shape, first.dtype, all(c.weak_type for c in cases))


def _chain_of_selects(which, *cases):
    shape = core.get_aval(cases[0]).shape
    which_aval = core.get_aval(which)
    if which_aval.shape != shape:
        which = broadcast_in_dim(which, shape, ())
    if which_aval.dtype == np.bool_:
        return ew.select(which, cases[-1], cases[0])
    out = cases[0]
    for i, case in enumerate(cases[1:], 1):
        out = ew.select(ew.eq(which, ew.full(shape, i, which_aval.dtype)), case, out)
    return out


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n_p.bind(which, *cases)
    if all(type(t) is Zero for t in tangents[1:]):
        return out, Zero(core.get_aval(out))
    ts = [instantiate(t, core.get_aval(c)) for t, c in zip(tangents[1:], cases)]
    return out, select_n_p.bind(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if type(ct) is Zero:
        return [None] * (1 + len(cases))
    aval = core.get_aval(ct)
    zeros = ew.full(aval.shape, 0, aval.dtype)
    return [None] + [select_n_p.bind(which, *[ct if j == i else zeros for j in range(len(cases))])
                     if is_undefined(c) else None for i, c in enumerate(cases)]


def _select_n_batch(axis, args, dims):
    """Cases batched in front; `which` too, spread over the cases' shape when it is a scalar
    per example (an unbatched scalar `which` stays one)."""
    which, *cases = args
    case_dims = dims[1:]
    batched = [(c, d) for c, d in zip(cases, case_dims) if d is not None]
    ref, ref_dim = batched[0] if batched else (cases[0], None)
    per_example = tuple(s for i, s in enumerate(core.get_aval(ref).shape) if i != ref_dim)
    full_shape = (axis.size,) + per_example
    cases = [bdim_at_front(c, d, axis.size) for c, d in zip(cases, case_dims)]
    if dims[0] is not None or core.get_aval(which).shape != ():
        which = bdim_at_front(which, dims[0], axis.size)
        if core.get_aval(which).shape != full_shape:
            which = broadcast_in_dim(which, full_shape, (0,))
    return select_n_p.bind(which, *cases), 0


select_n_p = Primitive("select_n")
select_n_p.def_abstract_eval(_select_n_aval)
lowering_rules[select_n_p] = lower_fun(_chain_of_selects)
jvp_rules[select_n_p] = _select_n_jvp
transpose_rules[select_n_p] = _select_n_transpose
linear_primitives.add(select_n_p)  # in the cases, `which` known
batching_rules[select_n_p] = _select_n_batch


def select_n(which, *cases):
    """jax.lax.select_n: cases[which] elementwise. `which` is bool (at most two cases: False
    picks cases[0]) or an integer array in [0, len(cases)) of the cases' shape, or a scalar."""
    if len(cases) == 1:
        _select_n_aval(core.get_aval(which), core.get_aval(cases[0]))
        return cases[0]
    return select_n_p.bind(which, *cases)
