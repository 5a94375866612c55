"""scan and map: one `scan` primitive running a body program over the leading axis of its
scanned inputs while threading a carry; lowered to a `stablehlo.while` over an iteration index,
slicing each input and writing each output with dynamic_slice / dynamic_update_slice.

`scan_p.bind(*consts, *init, *xs, jaxpr, num_consts, num_carry, length, reverse, unroll)`: the
body takes (consts, carry, x slices) and returns (carry, y slices); the results are the final
carry and the stacked ys. Reverse mode is a reverse scan of the transposed body.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.transforms import caches, core, tree_util
from spmd.transforms.batching import batching_rules, move_or_broadcast, moveaxis, vmap_flat
from spmd.transforms.core import AxisFrame, ConcretizationError, Jaxpr, Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.control_flow.common import (avals_of, check_carry, intern, op_results,
                                                     promote_weak_carry, trace_fun, trace_program,
                                                     typematch)
from spmd.transforms.lax.control_flow.subprograms import (as_tangent, batch_fixed_point,
                                                          batch_program, grouped_order,
                                                          is_differentiable, jvp_program,
                                                          partial_eval_program, regroup,
                                                          transpose_program, unknown_fixed_point,
                                                          zeros)
from spmd.transforms.lax.slicing import concatenate, slice_in_dim
from spmd.transforms.lax.structural import reshape
from spmd.transforms.lowering import (ORDER_TOKEN, OrderedChain, i64_array, lower_jaxpr,
                                      lowering_rules)
from spmd.transforms.staging import partial_eval_rules
from spmd.transforms.transpose import is_undefined, transpose_rules

scan_p = Primitive("scan", multiple_results=True)


def _split(seq, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start:start + n]))
        start += n
    out.append(list(seq[start:]))
    return out


def _stacked(aval: ShapedArray, length: int) -> ShapedArray:
    return aval.update(shape=(length,) + aval.shape)


def _scan_abstract_eval(*avals, jaxpr, num_consts, num_carry, length, reverse, unroll):
    xs = avals[num_consts + num_carry:]
    slices = [x.update(shape=x.shape[1:]) for x in xs]
    if any(x.shape[:1] != (length,) for x in xs) or not all(typematch(a, b) for a, b in zip(
            jaxpr.in_avals, avals[:num_consts + num_carry] + tuple(slices))):
        raise TypeError(f"scan of length {length}: the body takes "
                        f"{[a.str_short() for a in jaxpr.in_avals]} but got consts, carry and "
                        f"scanned inputs {[a.str_short() for a in avals]}")
    carry, ys = _split(jaxpr.out_avals, num_carry)
    return carry + [_stacked(y, length) for y in ys]


scan_p.def_abstract_eval(_scan_abstract_eval)


# ---------------------------------------------------------------- lowering
_I32 = ShapedArray((), np.int32)


def _i32(ctx, value: int) -> str:
    return ctx.constant(np.int32(value), _I32)


def _i32_op(ctx, op: str, a: str, b: str) -> str:
    return ctx.typed(op, [a, b], [_I32, _I32], _I32)


def _scan_lowering(ctx, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    """A while loop over `length // unroll` trips of `unroll` body copies, then the remaining
    iterations written out after it. The loop state carries every operand and the ys buffers."""
    n_xs = len(args) - num_consts - num_carry
    x_avals = ctx.in_avals[num_consts + num_carry:]
    ys_avals = ctx.out_avals[num_carry:]
    y_avals = jaxpr.out_avals[num_carry:]
    if length == 0:  # nothing runs: no slice of an empty axis may even be written
        return list(args[num_consts:num_consts + num_carry]) + [
            ctx.constant(np.zeros(a.shape, a.dtype), a.strip_weak()) for a in ys_avals]
    state = list(args) + [ctx.constant(np.zeros(a.shape, a.dtype), a.strip_weak())
                          for a in ys_avals]
    state_avals = list(ctx.in_avals) + list(ys_avals)

    def step(sub, i, state):
        """One iteration `i` (an i32 value): slice the xs, run the body, store the ys."""
        consts, carry, xs, ys = _split(state, num_consts, num_carry, n_xs)
        idx = _i32_op(sub, "stablehlo.subtract", _i32(sub, length - 1), i) if reverse else i
        x_slices = [_index(sub, x, aval, idx) for x, aval in zip(xs, x_avals)]
        outs = lower_jaxpr(sub, jaxpr, [], consts + carry + x_slices)
        new_carry, y_slices = _split(outs, num_carry)
        ys = [_update(sub, buf, aval, y, y_aval, idx)
              for buf, aval, y, y_aval in zip(ys, ys_avals, y_slices, y_avals)]
        return consts + new_carry + xs + ys

    trips = length // unroll  # the remaining length % unroll steps follow the loop
    if trips == 1 and unroll > 1:  # fully unrolled: no loop at all
        trips = 0
    if trips:
        def cond(sub, st):
            return [sub.typed("stablehlo.compare", [st[0], _i32(sub, trips)], [_I32, _I32],
                              ShapedArray((), np.bool_),
                              attrs="comparison_direction = #stablehlo<comparison_direction LT>")]

        def body(sub, st):
            first = _i32_op(sub, "stablehlo.multiply", st[0], _i32(sub, unroll))
            inner = st[1:]
            for k in range(unroll):
                inner = step(sub, _i32_op(sub, "stablehlo.add", first, _i32(sub, k)), inner)
            return [_i32_op(sub, "stablehlo.add", st[0], _i32(sub, 1))] + inner
        loop_avals, loop_state = [_I32] + state_avals, [_i32(ctx, 0)] + state
        chain = OrderedChain(ctx, [jaxpr])  # the ordered token rides last in the state
        if chain.carried:
            loop_avals, loop_state = loop_avals + [ORDER_TOKEN], loop_state + [chain.entry]
            plain_body = body

            def body(sub, st):
                return chain.lower(st[-1], lambda: plain_body(sub, st[:-1]))
        out = ctx.op("stablehlo.while", loop_state, out_avals=loop_avals,
                     regions=[ctx.region(loop_avals, cond, [ShapedArray((), np.bool_)]),
                              ctx.region(loop_avals, body, loop_avals, chain.carried)],
                     operand_avals=loop_avals)
        state = op_results(out, len(loop_avals))[1:]
        if chain.carried:
            chain.after(state.pop())
    for k in range(trips * unroll, length):
        state = step(ctx, _i32(ctx, k), state)
    _, carry, _, ys = _split(state, num_consts, num_carry, n_xs)
    return carry + ys


def _index(ctx, x: str, aval: ShapedArray, idx: str) -> str:
    """x[idx] along the leading axis."""
    zero = [_i32(ctx, 0) for _ in aval.shape[1:]]
    piece = aval.update(shape=(1,) + aval.shape[1:])
    sliced = ctx.typed("stablehlo.dynamic_slice", [x, idx] + zero, [aval] + [_I32] * aval.ndim,
                       piece, attrs=f"slice_sizes = {i64_array(piece.shape)}")
    return ctx.typed("stablehlo.reshape", [sliced], [piece], piece.update(shape=aval.shape[1:]))


def _update(ctx, buf: str, aval: ShapedArray, y: str, y_aval: ShapedArray, idx: str) -> str:
    """buf with buf[idx] = y along the leading axis."""
    piece = y_aval.update(shape=(1,) + y_aval.shape)
    y1 = ctx.typed("stablehlo.reshape", [y], [y_aval], piece)
    zero = [_i32(ctx, 0) for _ in y_aval.shape]
    return ctx.typed("stablehlo.dynamic_update_slice", [buf, y1, idx] + zero,
                     [aval, piece] + [_I32] * aval.ndim, aval)


lowering_rules[scan_p] = _scan_lowering


# ---------------------------------------------------------------- JVP
def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nonzeros = [type(t) is not Zero and is_differentiable(core.get_aval(p))
                for p, t in zip(primals, tangents)]
    const_nz, init_nz, xs_nz = _split(nonzeros, num_consts, num_carry)
    n_ys = len(jaxpr.outvars) - num_carry
    carry_nz = init_nz
    while True:  # a carry's tangent is non-zero if it enters so or the body makes it so
        flags = tuple(const_nz + carry_nz + xs_nz)
        out_nz = jvp_program(jaxpr, flags, tuple(carry_nz) + (False,) * n_ys)[2]
        new = [a or b for a, b in zip(carry_nz, out_nz[:num_carry])]
        if new == carry_nz:
            break
        carry_nz = new
    program, consts_j, out_nz = jvp_program(jaxpr, flags, tuple(carry_nz) + (False,) * n_ys)
    ys_nz = out_nz[num_carry:]
    body = regroup(program,
                   grouped_order([num_consts, num_carry, len(xs_nz)],
                                 [sum(const_nz), sum(carry_nz), sum(xs_nz)], lead=len(consts_j)),
                   grouped_order([num_carry, n_ys], [sum(carry_nz), sum(ys_nz)]))
    consts, init, xs = _split(primals, num_consts, num_carry)
    const_t, init_t, xs_t = _split(tangents, num_consts, num_carry)
    const_t = [t for t, nz in zip(const_t, const_nz) if nz]
    init_t = [as_tangent(t, core.get_aval(p).strip_weak())
              for p, t, nz in zip(init, init_t, carry_nz) if nz]
    xs_t = [t for t, nz in zip(xs_t, xs_nz) if nz]
    outs = scan_p.bind(*consts_j, *consts, *const_t, *init, *init_t, *xs, *xs_t, jaxpr=body,
                       num_consts=len(consts_j) + num_consts + len(const_t),
                       num_carry=num_carry + len(init_t), length=length, reverse=reverse,
                       unroll=unroll)
    carry, carry_t, ys, ys_t = _split(outs, num_carry, len(init_t), n_ys)
    t_it = iter(carry_t + ys_t)
    primals_out = carry + ys
    return primals_out, [next(t_it) if nz else Zero(core.get_aval(p))
                         for p, nz in zip(primals_out, out_nz)]


jvp_rules[scan_p] = _scan_jvp


# ---------------------------------------------------------------- partial evaluation
def _scan_partial_eval(trace, args, params):
    """The known scan runs now and stacks, per iteration, the residuals the unknown scan needs;
    residuals that do not change across iterations (computed from known consts only) are
    computed once, before the loop, and passed to the unknown scan as consts."""
    jaxpr, num_consts, num_carry = params["jaxpr"], params["num_consts"], params["num_carry"]
    loop = dict(length=params["length"], reverse=params["reverse"], unroll=params["unroll"])
    unknowns = [trace.owns(x) for x in args]
    const_uk, init_uk, xs_uk = _split(unknowns, num_consts, num_carry)
    carry_uk = unknown_fixed_point(jaxpr, const_uk, init_uk, xs_uk)
    n_ys = len(jaxpr.outvars) - num_carry
    known, staged, out_uk, num_res = partial_eval_program(
        jaxpr, tuple(const_uk + carry_uk + xs_uk), tuple(carry_uk) + (False,) * n_ys)
    consts, init, xs = _split(args, num_consts, num_carry)
    known_consts = [c for c, u in zip(consts, const_uk) if not u]
    known_init = [c for c, u in zip(init, carry_uk) if not u]
    known_xs = [x for x, u in zip(xs, xs_uk) if not u]
    n_known_out = len(out_uk) - sum(out_uk)

    split = _split_known_body(known, len(known_consts), len(known_init), n_known_out, num_res)
    with core.set_current_trace(trace.parent):
        hoisted = core.eval_jaxpr(split.before_loop, [], *known_consts)
        invariant_res, body_consts = hoisted[:split.n_invariant], hoisted[split.n_invariant:]
        known_outs = scan_p.bind(*body_consts, *known_init, *known_xs, jaxpr=split.body,
                                 num_consts=len(body_consts), num_carry=len(known_init), **loop) \
            if split.body.outvars else []
    computed = iter(known_outs[n_known_out:])
    variant_res = [next(computed) if i is None else known_xs[i] for i in split.forwarded]

    n_ukc, n_ukcarry, n_ukx = sum(const_uk), sum(carry_uk), sum(xs_uk)
    inv_idx = [i for i, inv in enumerate(split.invariant) if inv]
    var_idx = [i for i, inv in enumerate(split.invariant) if not inv]
    base = num_res
    order = (inv_idx + list(range(base, base + n_ukc + n_ukcarry)) + var_idx
             + list(range(base + n_ukc + n_ukcarry, base + n_ukc + n_ukcarry + n_ukx)))
    body_staged = regroup(staged, order, range(len(staged.outvars)))
    staged_args = (invariant_res + [c for c, u in zip(consts, const_uk) if u]
                   + [c for c, u in zip(init, carry_uk) if u] + variant_res
                   + [x for x, u in zip(xs, xs_uk) if u])
    staged_outs = trace.stage(scan_p, staged_args, dict(
        jaxpr=body_staged, num_consts=len(inv_idx) + n_ukc, num_carry=n_ukcarry, **loop))
    known_it, staged_it = iter(known_outs[:n_known_out]), iter(staged_outs)
    return [next(staged_it) if u else next(known_it) for u in out_uk]


class _KnownBody:
    """The known body split further: `before_loop` computes, from the known consts, the
    loop-invariant residuals (flagged in `invariant`) then the consts of `body`, which computes
    the known outputs and the per-iteration residuals. A per-iteration residual that is a
    scanned input itself is not copied: `forwarded` gives its index among the known xs."""

    def __init__(self, before_loop, invariant, body, forwarded):
        self.before_loop, self.invariant, self.body = before_loop, invariant, body
        self.n_invariant, self.forwarded = sum(invariant), forwarded


@caches.cached
def _split_known_body(known: Jaxpr, n_consts: int, n_carry: int, n_out: int, num_res: int):
    """Split the known body once more with only its consts known: what is then still known
    is loop-invariant."""
    n_in = len(known.invars)
    before, body, out_uk, n_body_consts = partial_eval_program(
        known, (False,) * n_consts + (True,) * (n_in - n_consts),
        (True,) * n_out + (False,) * num_res)
    invariant = [not u for u in out_uk[n_out:]]
    xs_at = {id(v): i for i, v in enumerate(body.invars[n_body_consts + n_carry:])}
    forwarded = [xs_at.get(id(v)) for v in body.outvars[n_out:]]
    kept = body.outvars[:n_out] + [v for v, f in zip(body.outvars[n_out:], forwarded) if f is None]
    body = intern(Jaxpr([], body.invars, kept, body.eqns))
    return _KnownBody(before, invariant, body, forwarded)


partial_eval_rules[scan_p] = _scan_partial_eval


# ---------------------------------------------------------------- transpose
def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    """A scan in the other direction over the transposed body. Its carry holds the carry's
    cotangent and the accumulated cotangents of the linear consts; the cotangents of the linear
    scanned inputs are its outputs. Every carry is linear (the init may be a known zero)."""
    consts, init, xs = _split(args, num_consts, num_carry)
    const_lin = tuple(is_undefined(c) for c in consts)
    xs_lin = tuple(is_undefined(x) for x in xs)
    body, body_consts = _transposed_body(jaxpr, num_consts, num_carry, const_lin, xs_lin)
    carry_avals, y_avals = _split(jaxpr.out_avals, num_carry)
    ct_carry, ct_ys = _split(cts, num_carry)
    ct_carry = [as_tangent(ct, a.strip_weak()) for ct, a in zip(ct_carry, carry_avals)]
    ct_ys = [as_tangent(ct, _stacked(a, length).strip_weak()) for ct, a in zip(ct_ys, y_avals)]
    lin_const_avals = [c.aval for c in consts if is_undefined(c)]
    accumulators = [zeros(a.strip_weak()) for a in lin_const_avals]
    nonlin_consts = [c for c in consts if not is_undefined(c)]
    nonlin_xs = [x for x in xs if not is_undefined(x)]
    outs = scan_p.bind(*body_consts, *nonlin_consts, *accumulators, *ct_carry, *nonlin_xs, *ct_ys,
                       jaxpr=body, num_consts=len(body_consts) + len(nonlin_consts),
                       num_carry=len(accumulators) + num_carry, length=length,
                       reverse=not reverse, unroll=unroll)
    ct_consts, ct_init, ct_xs = _split(outs, len(accumulators), num_carry)
    c_it, x_it = iter(ct_consts), iter(ct_xs)
    return ([next(c_it) if lin else None for lin in const_lin]
            + [ct if is_undefined(x) else None for x, ct in zip(init, ct_init)]
            + [next(x_it) if lin else None for lin in xs_lin])


@caches.cached
def _transposed_body(jaxpr: Jaxpr, num_consts: int, num_carry: int, const_lin: tuple,
                     xs_lin: tuple):
    """(consts: non-linear consts; carry: const cotangent sums, carry cotangent; xs: non-linear
    xs, ys cotangents) -> (updated sums, cotangent of the carry input; cotangents of the
    linear xs)."""
    linear = const_lin + (True,) * num_carry + xs_lin
    transposed, t_consts = transpose_program(jaxpr, linear)
    n_nlc, n_lc = const_lin.count(False), const_lin.count(True)
    n_nlx = xs_lin.count(False)
    n_ys = len(jaxpr.outvars) - num_carry

    def body(*args):
        nl_consts, sums, ct_carry, nl_xs, ct_ys = _split(args, n_nlc, n_lc, num_carry, n_nlx)
        outs = core.eval_jaxpr(transposed, [], *t_consts, *nl_consts, *nl_xs, *ct_carry, *ct_ys)
        ct_consts, ct_carry_in, ct_xs = _split(outs, n_lc, num_carry)
        return [ew.add_any(s, c) for s, c in zip(sums, ct_consts)] + ct_carry_in + ct_xs
    invars = jaxpr.invars
    consts_v, carry_v, xs_v = _split(invars, num_consts, num_carry)
    avals = ([v.aval for v, lin in zip(consts_v, const_lin) if not lin]
             + [v.aval.strip_weak() for v, lin in zip(consts_v, const_lin) if lin]
             + [a.strip_weak() for a in jaxpr.out_avals[:num_carry]]
             + [v.aval for v, lin in zip(xs_v, xs_lin) if not lin]
             + [a.strip_weak() for a in jaxpr.out_avals[num_carry:num_carry + n_ys]])
    return trace_program(body, avals)


transpose_rules[scan_p] = _scan_transpose


# ---------------------------------------------------------------- batching
def _scan_batch(axis, args, dims, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    """Batch the body; a batched scanned input carries its batch axis second (the body sees
    it first), and a carry is batched if it enters batched or the body makes it so."""
    batched = [d is not None for d in dims]
    const_b, init_b, xs_b = _split(batched, num_consts, num_carry)
    carry_b = batch_fixed_point(jaxpr, axis, const_b, init_b, xs_b)
    n_ys = len(jaxpr.outvars) - num_carry
    body, body_consts, out_b = batch_program(jaxpr, axis.name, axis.size, axis.kind,
                                             tuple(const_b + carry_b + xs_b),
                                             tuple(carry_b) + (False,) * n_ys)
    consts, init, xs = _split(args, num_consts, num_carry)
    c_dims, i_dims, x_dims = _split(dims, num_consts, num_carry)
    consts = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(consts, c_dims)]
    init = [move_or_broadcast(x, d, 0, axis.size) if b else x
            for x, d, b in zip(init, i_dims, carry_b)]
    xs = [moveaxis(x, d, 1) if d is not None else x for x, d in zip(xs, x_dims)]
    outs = scan_p.bind(*body_consts, *consts, *init, *xs, jaxpr=body,
                       num_consts=len(body_consts) + num_consts, num_carry=num_carry,
                       length=length, reverse=reverse, unroll=unroll)
    return outs, ([0 if b else None for b in carry_b]
                  + [1 if b else None for b in out_b[num_carry:]])


batching_rules[scan_p] = _scan_batch


# ---------------------------------------------------------------- the user's functions
def scan(f: Callable, init, xs=None, length=None, reverse: bool = False, unroll=1):
    """Loop `f(carry, x) -> (carry, y)` over the leading axis of `xs` (pytrees), returning the
    final carry and the stacked ys, as jax.lax.scan. Compiled as one loop."""
    if not callable(f):
        raise TypeError("lax.scan: f argument should be a callable.")
    xs_leaves, xs_tree = tree_util.tree_flatten(xs)
    xs_avals = avals_of(xs_leaves)
    flat = [a for a in xs_avals if a.ndim == 0]
    if flat:
        raise ValueError("scan got value with no leading axis to scan over: "
                         + ", ".join(a.str_short() for a in flat) + ".")
    length = _scan_length(length, [a.shape[0] for a in xs_avals])
    x_avals = [a.update(shape=a.shape[1:]) for a in xs_avals]
    init_leaves, init_tree = tree_util.tree_flatten(init)

    def trace_body(init_leaves):
        args_tree = tree_util.tree_structure((tree_util.tree_unflatten(init_tree, init_leaves),
                                              tree_util.tree_unflatten(xs_tree, xs_leaves)))
        jaxpr, consts, out_tree = trace_fun(f, args_tree, avals_of(init_leaves) + x_avals)
        if len(tree_util.treedef_children(out_tree)) != 2:
            raise TypeError("scan body output must be a pair, got "
                            f"{tree_util.tree_unflatten(out_tree, jaxpr.out_avals)}.")
        return jaxpr, consts, out_tree

    jaxpr, consts, out_tree = trace_body(init_leaves)
    carry_tree, ys_tree = tree_util.treedef_children(out_tree)
    carry_out = jaxpr.out_avals[:carry_tree.num_leaves]
    init_leaves, changed = promote_weak_carry(init_leaves, avals_of(init_leaves), carry_out)
    if changed:
        jaxpr, consts, out_tree = trace_body(init_leaves)
        carry_tree, ys_tree = tree_util.treedef_children(out_tree)
        carry_out = jaxpr.out_avals[:carry_tree.num_leaves]
    check_carry("scan body", f, init_tree, avals_of(init_leaves), carry_tree, carry_out)
    outs = scan_p.bind(*consts, *init_leaves, *xs_leaves, jaxpr=jaxpr, num_consts=len(consts),
                       num_carry=len(init_leaves), length=length, reverse=bool(reverse),
                       unroll=_unroll(unroll, length))
    n = len(init_leaves)
    return (tree_util.tree_unflatten(carry_tree, outs[:n]),
            tree_util.tree_unflatten(ys_tree, outs[n:]))


def _scan_length(length, lengths) -> int:
    if length is not None:
        try:
            length = int(length)
        except ConcretizationError:
            raise ConcretizationError("The `length` argument to `scan` expects a concrete `int` "
                                      "value.") from None
        if any(n != length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {lengths}.")
        return length
    if len(set(lengths)) > 1:
        raise ValueError("scan got values with different leading axis sizes: "
                         + ", ".join(str(n) for n in lengths) + ".")
    if not lengths:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    return lengths[0]


def _unroll(unroll, length: int) -> int:
    if isinstance(unroll, (bool, np.bool_)):
        return max(length, 1) if unroll else 1
    if not isinstance(unroll, (int, np.integer)) or unroll < 1:
        raise ValueError("`unroll` must be a `bool` or a positive `int`.")
    return int(unroll)


def map(f: Callable, xs, *, batch_size: int | None = None):  # noqa: A001  (jax.lax's name)
    """`np.stack([f(x) for x in xs])` over pytrees, as one scan. With `batch_size`, each step
    applies vmap(f) to `batch_size` elements at once (the remainder in one more vmap)."""
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    return _batched_map(f, xs, int(batch_size))


def _vmap_rows(f, xs):
    """vmap(f)(xs) with vmap's defaults (every leaf mapped along axis 0, the outputs stacked
    along axis 0), on vmap_flat: the pytree-level vmap of transforms/api.py sits above lax."""
    leaves, tree = tree_util.tree_flatten(xs)
    out_trees = []

    def flat(*rows):
        out_leaves, out_tree = tree_util.tree_flatten(f(tree_util.tree_unflatten(tree, rows)))
        out_trees.append(out_tree)
        return out_leaves
    size = core.get_aval(leaves[0]).shape[0]
    outs = vmap_flat(flat, AxisFrame(None, size, "vmap"), leaves, [0] * len(leaves),
                     lambda: [0] * out_trees[0].num_leaves)
    return tree_util.tree_unflatten(out_trees[0], outs)


def _batched_map(f, xs, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"lax.map: batch_size must be a positive int, got {batch_size}")
    leaves, tree = tree_util.tree_flatten(xs)
    n = _scan_length(None, [core.get_aval(x).shape[0] for x in leaves])
    trips, rem = divmod(n, batch_size)
    ys = None
    if trips:
        main = [reshape(slice_in_dim(x, 0, trips * batch_size),
                        (trips, batch_size) + core.get_aval(x).shape[1:]) for x in leaves]
        ys = scan(lambda _, x: ((), _vmap_rows(f, x)), (), tree_util.tree_unflatten(tree, main))[1]
        ys = tree_util.tree_map(lambda y: reshape(y, (trips * batch_size,)
                                                  + core.get_aval(y).shape[2:]), ys)
    if rem:
        rest = _vmap_rows(f, tree_util.tree_unflatten(
            tree, [slice_in_dim(x, trips * batch_size, n) for x in leaves]))
        ys = rest if ys is None else tree_util.tree_map(
            lambda a, b: concatenate([a, b], 0), ys, rest)
    return ys
