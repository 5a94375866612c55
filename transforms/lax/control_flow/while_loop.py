"""while_loop and fori_loop: one `while` primitive with a cond program and a body program over
a carry; lowered to `stablehlo.while`. fori_loop with a trip count known while tracing is a
scan (so that reverse mode works, as in JAX); otherwise it is a while loop.

`while_p.bind(*cond_consts, *body_consts, *init, cond_jaxpr, body_jaxpr, cond_nconsts,
body_nconsts)`: cond takes (cond_consts, carry) and returns a bool scalar; body takes
(body_consts, carry) and returns the carry. Differentiable in forward mode only: reverse mode
would need the values of every iteration, whose number is unknown when compiling.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.batching import batching_rules, move_or_broadcast, moveaxis
from spmd.transforms.core import Primitive, ShapedArray, Tracer
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.control_flow.common import (avals_of, check_carry, op_results,
                                                     promote_weak_carry, trace_fun, trace_program,
                                                     typematch)
from spmd.transforms.lax.control_flow.scan import scan
from spmd.transforms.lax.control_flow.subprograms import (as_tangent, batch_fixed_point,
                                                          batch_program, first_outputs,
                                                          grouped_order,
                                                          is_differentiable, jvp_program,
                                                          partial_eval_program, regroup,
                                                          unknown_fixed_point, with_unused_inputs)
from spmd.transforms.lax.reductions import reduce_or
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import ORDER_TOKEN, OrderedChain, lower_jaxpr, lowering_rules
from spmd.transforms.staging import partial_eval_rules
from spmd.transforms.transpose import transpose_rules

while_p = Primitive("while", multiple_results=True)
_PRED = ShapedArray((), np.bool_)


def _split3(seq, a: int, b: int):
    return list(seq[:a]), list(seq[a:a + b]), list(seq[a + b:])


def _while_abstract_eval(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cconsts, bconsts, carry = _split3(avals, cond_nconsts, body_nconsts)
    if [a.strip_weak() for a in cond_jaxpr.out_avals] != [_PRED]:
        raise TypeError(f"while's cond must return a bool scalar, got "
                        f"{[a.str_short() for a in cond_jaxpr.out_avals]}")
    if not (all(map(typematch, cond_jaxpr.in_avals, cconsts + carry))
            and all(map(typematch, body_jaxpr.in_avals, bconsts + carry))
            and all(map(typematch, body_jaxpr.out_avals, carry))):
        raise TypeError(f"while: the carry {[a.str_short() for a in carry]} does not match the "
                        f"cond {[a.str_short() for a in cond_jaxpr.in_avals]} and body "
                        f"{[a.str_short() for a in body_jaxpr.in_avals]} -> "
                        f"{[a.str_short() for a in body_jaxpr.out_avals]} programs")
    return body_jaxpr.out_avals


while_p.def_abstract_eval(_while_abstract_eval)


def _while_lowering(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """The consts travel in the loop state, unchanged, beside the carry."""
    nc, nb = cond_nconsts, body_nconsts
    avals, state = list(ctx.in_avals), list(args)
    chain = OrderedChain(ctx, [cond_jaxpr, body_jaxpr])  # the token rides last in the state
    if chain.carried:
        avals, state = avals + [ORDER_TOKEN], state + [chain.entry]
    n = len(args)

    def cond(sub, st):
        def run():
            return lower_jaxpr(sub, cond_jaxpr, [], st[:nc] + st[nc + nb:n])
        # (cond's callbacks end before the body's start: XLA runs the whole cond first)
        return chain.lower(st[n], run)[:1] if chain.carried else run()

    def body(sub, st):
        def run():
            return st[:nc + nb] + lower_jaxpr(sub, body_jaxpr, [], st[nc:n])
        return chain.lower(st[n], run) if chain.carried else run()
    out = ctx.op("stablehlo.while", state, out_avals=avals, operand_avals=avals,
                 regions=[ctx.region(avals, cond, [_PRED], chain.carried),
                          ctx.region(avals, body, avals, chain.carried)])
    results = op_results(out, len(avals))
    if chain.carried:
        chain.after(results[n])
    return results[nc + nb:n]


lowering_rules[while_p] = _while_lowering


# ---------------------------------------------------------------- JVP (forward mode)
def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """The body's JVP carries the tangents beside the carry; cond ignores them."""
    nonzeros = [type(t) is not Zero and is_differentiable(core.get_aval(p))
                for p, t in zip(primals, tangents)]
    _, bconst_nz, init_nz = _split3(nonzeros, cond_nconsts, body_nconsts)
    carry_nz = init_nz
    while True:  # a carry's tangent is non-zero if it enters so or the body makes it so
        out_nz = jvp_program(body_jaxpr, tuple(bconst_nz + carry_nz), tuple(carry_nz))[2]
        new = [a or b for a, b in zip(carry_nz, out_nz)]
        if new == carry_nz:
            break
        carry_nz = new
    program, consts_j, _ = jvp_program(body_jaxpr, tuple(bconst_nz + carry_nz), tuple(carry_nz))
    n_carry, n_bt, n_ct = len(carry_nz), sum(bconst_nz), sum(carry_nz)
    body = regroup(program, grouped_order([body_nconsts, n_carry], [n_bt, n_ct], len(consts_j)),
                   range(len(program.outvars)))
    cconsts, bconsts, init = _split3(primals, cond_nconsts, body_nconsts)
    _, bconst_t, init_t = _split3(tangents, cond_nconsts, body_nconsts)
    bconst_t = [t for t, nz in zip(bconst_t, bconst_nz) if nz]
    init_t = [as_tangent(t, core.get_aval(p).strip_weak())
              for p, t, nz in zip(init, init_t, carry_nz) if nz]
    cond = with_unused_inputs(cond_jaxpr, avals_of(init_t), len(cond_jaxpr.invars))
    outs = while_p.bind(*cconsts, *consts_j, *bconsts, *bconst_t, *init, *init_t,
                        cond_jaxpr=cond, body_jaxpr=body, cond_nconsts=cond_nconsts,
                        body_nconsts=len(consts_j) + body_nconsts + n_bt)
    t_it = iter(outs[n_carry:])
    return outs[:n_carry], [next(t_it) if nz else Zero(core.get_aval(o))
                            for o, nz in zip(outs[:n_carry], carry_nz)]


jvp_rules[while_p] = _while_jvp


def _while_partial_eval(trace, args, params):
    """The known part of the carry is computed now by a loop of the body's known part; the
    unknown part by the whole loop, staged (it recomputes the known part, which it needs)."""
    cond_jaxpr, body_jaxpr = params["cond_jaxpr"], params["body_jaxpr"]
    nc, nb = params["cond_nconsts"], params["body_nconsts"]
    unknowns = [trace.owns(x) for x in args]
    cconst_uk, bconst_uk, init_uk = _split3(unknowns, nc, nb)
    carry_uk = unknown_fixed_point(body_jaxpr, bconst_uk, init_uk, [])
    cond_known, _, (pred_uk,), _ = partial_eval_program(cond_jaxpr, tuple(cconst_uk + carry_uk),
                                                        (False,))
    if pred_uk:
        return trace.stage(while_p, args, params)
    body_known, _, _, _ = partial_eval_program(body_jaxpr, tuple(bconst_uk + carry_uk),
                                               tuple(carry_uk))
    known = [x for x, u in zip(args, cconst_uk + bconst_uk + carry_uk) if not u]
    n_known_carry = carry_uk.count(False)
    with core.set_current_trace(trace.parent):
        known_outs = while_p.bind(
            *known, cond_jaxpr=first_outputs(cond_known, 1),
            body_jaxpr=first_outputs(body_known, n_known_carry),
            cond_nconsts=cconst_uk.count(False), body_nconsts=bconst_uk.count(False))
    if not any(carry_uk):  # the unknown inputs do not reach the carry
        return known_outs
    staged_outs = trace.stage(while_p, args, params)
    known_it = iter(known_outs)
    return [s if u else next(known_it) for s, u in zip(staged_outs, carry_uk)]


partial_eval_rules[while_p] = _while_partial_eval


def _while_transpose(cts, *args, **params):
    raise ValueError("Reverse-mode differentiation does not work for lax.while_loop or "
                     "lax.fori_loop with dynamic start/stop values. Try using lax.scan, or using "
                     "fori_loop with static start/stop.")


transpose_rules[while_p] = _while_transpose


# ---------------------------------------------------------------- batching
def _while_batch(axis, args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """Batch the body (a carry is batched if it enters batched or the body makes it so). With
    a batched predicate the loop runs while any example runs; a finished example's carry is
    frozen by a select."""
    args = [moveaxis(x, d, 0) if d is not None else x for x, d in zip(args, dims)]
    batched = [d is not None for d in dims]
    cconst_b, bconst_b, init_b = _split3(batched, cond_nconsts, body_nconsts)
    carry_b = batch_fixed_point(body_jaxpr, axis, bconst_b, init_b, [])
    pred_b = batch_program(cond_jaxpr, axis.name, axis.size, axis.kind,
                           tuple(cconst_b + carry_b), (False,))[2][0]
    if pred_b:
        carry_b = [True] * len(carry_b)
    batch = dict(axis_name=axis.name, axis_size=axis.size, axis_kind=axis.kind)
    body, body_c, _ = batch_program(body_jaxpr, in_batched=tuple(bconst_b + carry_b),
                                    instantiate_outs=tuple(carry_b), **batch)
    cond, cond_c, _ = batch_program(cond_jaxpr, in_batched=tuple(cconst_b + carry_b),
                                    instantiate_outs=(pred_b,), **batch)
    cconsts, bconsts, init = _split3(args, cond_nconsts, body_nconsts)
    init = [move_or_broadcast(x, 0 if b0 else None, 0, axis.size) if b else x
            for x, b0, b in zip(init, init_b, carry_b)]
    if not pred_b:
        outs = while_p.bind(*cond_c, *cconsts, *body_c, *bconsts, *init, cond_jaxpr=cond,
                            body_jaxpr=body, cond_nconsts=len(cond_c) + cond_nconsts,
                            body_nconsts=len(body_c) + body_nconsts)
        return outs, [0 if b else None for b in carry_b]
    new_cond, new_body, consts = _any_and_freeze(cond, cond_c, body, body_c, avals_of(cconsts),
                                                 avals_of(bconsts), avals_of(init))
    cond_consts, body_consts = consts
    outs = while_p.bind(*cond_consts, *cconsts, *body_consts, *cconsts, *bconsts, *init,
                        cond_jaxpr=new_cond, body_jaxpr=new_body,
                        cond_nconsts=len(cond_consts) + len(cconsts),
                        body_nconsts=len(body_consts) + len(cconsts) + len(bconsts))
    return outs, [0] * len(outs)


def _any_and_freeze(cond, cond_c, body, body_c, cconst_avals, bconst_avals, carry_avals):
    """From a cond returning one bool per example: a cond true while any example runs, and a
    body that leaves the carry of finished examples unchanged."""
    nc, nb = len(cconst_avals), len(bconst_avals)

    def any_running(*xs):
        return [reduce_or(core.eval_jaxpr(cond, [], *cond_c, *xs)[0], (0,))]

    def frozen_when_done(*xs):
        cconsts, bconsts, carry = _split3(xs, nc, nb)
        running = core.eval_jaxpr(cond, [], *cond_c, *cconsts, *carry)[0]
        new = core.eval_jaxpr(body, [], *body_c, *bconsts, *carry)
        return [ew.select(broadcast_in_dim(running, core.get_aval(n).shape, (0,)), n, old)
                for n, old in zip(new, carry)]
    new_cond, cond_consts = trace_program(any_running, cconst_avals + carry_avals)
    new_body, body_consts = trace_program(frozen_when_done,
                                          cconst_avals + bconst_avals + carry_avals)
    return new_cond, new_body, (cond_consts, body_consts)


batching_rules[while_p] = _while_batch


# ---------------------------------------------------------------- the user's functions
def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """`while cond_fun(val): val = body_fun(val)` over a pytree carry, staged as one loop."""
    if not (callable(body_fun) and callable(cond_fun)):
        raise TypeError("lax.while_loop: body_fun and cond_fun arguments should be callable.")
    init_leaves, in_tree = tree_util.tree_flatten((init_val,))

    def trace_both(init_leaves):
        avals = avals_of(init_leaves)
        cond, cond_consts, cond_tree = trace_fun(cond_fun, in_tree, avals)
        if not tree_util.treedef_is_strict_leaf(cond_tree) or len(cond.out_avals) != 1:
            raise TypeError(f"cond_fun must return a boolean scalar, but got pytree {cond_tree}.")
        if cond.out_avals[0].strip_weak() != _PRED:
            raise TypeError("cond_fun must return a boolean scalar, but got output type(s) "
                            f"{[a.str_short() for a in cond.out_avals]}.")
        body, body_consts, body_tree = trace_fun(body_fun, in_tree, avals)
        return cond, cond_consts, body, body_consts, body_tree

    cond, cond_consts, body, body_consts, body_tree = trace_both(init_leaves)
    init_leaves, changed = promote_weak_carry(init_leaves, avals_of(init_leaves), body.out_avals)
    if changed:
        cond, cond_consts, body, body_consts, body_tree = trace_both(init_leaves)
    check_carry("while_loop body", body_fun, tree_util.treedef_children(in_tree)[0],
                avals_of(init_leaves), body_tree, body.out_avals)
    outs = while_p.bind(*cond_consts, *body_consts, *init_leaves, cond_jaxpr=cond,
                        body_jaxpr=body, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    return tree_util.tree_unflatten(body_tree, outs)


def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll=None):
    """`for i in range(lower, upper): val = body_fun(i, val)`. With bounds known while tracing
    it is a scan (reverse-mode differentiable); with traced bounds a while_loop."""
    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    dtype = _bounds_dtype(lower, upper)
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lower_, upper_ = int(lower), int(upper)

        def scan_body(carry, _):
            i, x = carry
            return (_plus_one(i), body_fun(i, x)), None
        (_, result), _ = scan(scan_body, (lower_, init_val), None,
                              length=max(upper_ - lower_, 0),
                              unroll=False if unroll is None else unroll)
        return result
    if unroll is not None:
        raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are statically "
                         "known.")
    lower = ew.convert_element_type(lower, dtype, core.get_aval(lower).weak_type
                                 and core.get_aval(lower).dtype == dtype)
    upper = ew.convert_element_type(upper, dtype, core.get_aval(upper).weak_type
                                 and core.get_aval(upper).dtype == dtype)

    def while_body(carry):
        i, hi, x = carry
        return _plus_one(i), hi, body_fun(i, x)
    _, _, result = while_loop(lambda c: ew.lt(c[0], c[1]), while_body, (lower, upper, init_val))
    return result


def _bounds_dtype(lower, upper):
    """One integer dtype for both bounds; a weak (Python) bound takes the other's, as in JAX."""
    lo, hi = core.get_aval(lower), core.get_aval(upper)
    for a in (lo, hi):
        if not dtypes.is_integer(a.dtype):
            raise TypeError(f"fori_loop bounds must be integers, got {a.dtype}")
    if lo.dtype == hi.dtype:
        return lo.dtype
    if lo.weak_type and not hi.weak_type:
        return hi.dtype
    if hi.weak_type and not lo.weak_type:
        return lo.dtype
    raise TypeError("lower and upper arguments to fori_loop must have equal types, got "
                    f"{lo.dtype.name} and {hi.dtype.name}")


def _plus_one(i):
    """i + 1 in i's own type (weak stays weak, so the loop index keeps one type)."""
    aval = core.get_aval(i)
    return ew.add(i, ew.convert_element_type(1, aval.dtype, aval.weak_type))
