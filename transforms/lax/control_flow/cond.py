"""cond and switch: one `cond` primitive that applies one of a tuple of branch programs, chosen by
an int32 index, to shared operands; lowered to `stablehlo.case`.

`cond_p.bind(index, *operands, branches=(jaxpr_0, ...))`: every branch takes all operands (the
consts each branch closed over come first, shared by all) and returns the same types. As in
JAX, a concrete predicate still stages the cond (both branches are traced and type-checked).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Jaxpr, Primitive, Tracer, Var
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.clamp import clamp
from spmd.transforms.lax.control_flow.common import (avals_of, check_same_outputs, intern,
                                                     join_weak_types, merge_consts, op_results,
                                                     trace_fun, trace_program, typematch)
from spmd.transforms.lax.control_flow.subprograms import (as_tangent, batch_program,
                                                          is_differentiable, jvp_program,
                                                          partial_eval_program, transpose_program)
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import ORDER_TOKEN, OrderedChain, lower_jaxpr, lowering_rules
from spmd.transforms.stop_gradient import stop_gradient
from spmd.transforms.staging import partial_eval_rules
from spmd.transforms.transpose import is_undefined, transpose_rules

cond_p = Primitive("cond", multiple_results=True)


def _cond_abstract_eval(index, *ops, branches):
    if index.shape != () or index.dtype != np.int32:
        raise TypeError(f"cond's index must be an int32 scalar, got {index.str_short()}")
    for i, branch in enumerate(branches):
        if len(branch.invars) != len(ops) or not all(map(typematch, branch.in_avals, ops)):
            raise TypeError(f"cond branch {i} takes {[a.str_short() for a in branch.in_avals]} "
                            f"but the operands are {[a.str_short() for a in ops]}")
    return branches[0].out_avals


cond_p.def_abstract_eval(_cond_abstract_eval)


def _cond_lowering(ctx, index, *ops, branches):
    # case regions take no arguments: a branch reads the operands from the enclosing block
    # (and the ordered token, which it returns last where it carries one: OrderedChain)
    chain = OrderedChain(ctx, branches)
    out_avals = list(ctx.out_avals) + [ORDER_TOKEN] * chain.carried

    def branch(sub, b):
        def run():
            return lower_jaxpr(sub, b, [], list(ops))
        return chain.lower(chain.entry, run) if chain.carried else run()
    regions = [ctx.region([], lambda sub, _, b=b: branch(sub, b), out_avals, chain.carried)
               for b in branches]
    out = ctx.op("stablehlo.case", [index], out_avals=out_avals, regions=regions,
                 operand_avals=ctx.in_avals[:1])
    results = op_results(out, len(out_avals))
    if chain.carried:
        chain.after(results.pop())
    return results


lowering_rules[cond_p] = _cond_lowering


# ---------------------------------------------------------------- JVP
def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nonzeros = tuple(type(t) is not Zero and is_differentiable(core.get_aval(p))
                     for p, t in zip(ops, tangents[1:]))
    n_out = len(branches[0].outvars)
    out_nz = _union(jvp_program(b, nonzeros, (False,) * n_out)[2] for b in branches)
    new_branches, consts = merge_consts([jvp_program(b, nonzeros, out_nz)[:2] for b in branches])
    ts = [t for t, nz in zip(tangents[1:], nonzeros) if nz]
    outs = cond_p.bind(index, *consts, *ops, *ts, branches=tuple(new_branches))
    it = iter(outs[n_out:])
    return outs[:n_out], [next(it) if nz else Zero(core.get_aval(o))
                          for o, nz in zip(outs[:n_out], out_nz)]


def _union(flag_lists) -> tuple:
    return tuple(any(fs) for fs in zip(*flag_lists))


jvp_rules[cond_p] = _cond_jvp


# ---------------------------------------------------------------- partial evaluation
def _cond_partial_eval(trace, args, params):
    """Split every branch at the same outputs; the known cond runs now and also returns the
    residuals of the branch it took (zeros in the other branches' residual slots, so that all
    branches have one type); the staged cond takes the index as a residual."""
    branches = params["branches"]
    index, *ops = args
    if trace.owns(index):
        return trace.stage(cond_p, args, params)
    unknowns = tuple(trace.owns(x) for x in ops)
    n_out = len(branches[0].outvars)
    out_uk = _union(partial_eval_program(b, unknowns, (False,) * n_out)[2] for b in branches)
    splits = [partial_eval_program(b, unknowns, out_uk) for b in branches]
    res_avals = [staged.in_avals[:num_res] for _, staged, _, num_res in splits]
    n_known = n_out - sum(out_uk)

    known_branches, known_consts = merge_consts(
        [_known_branch(known, n_known, res_avals, i) for i, (known, *_) in enumerate(splits)])
    with core.set_current_trace(trace.parent):
        known_outs = cond_p.bind(index, *known_consts, *[x for x, u in zip(ops, unknowns) if not u],
                                 branches=tuple(known_branches))
    residuals = known_outs[n_known:]
    staged_branches = tuple(_staged_branch(staged, res_avals, i)
                            for i, (_, staged, _, _) in enumerate(splits))
    staged_outs = trace.stage(cond_p, [index, *residuals, *[x for x, u in zip(ops, unknowns) if u]],
                              dict(branches=staged_branches))
    known_it, staged_it = iter(known_outs[:n_known]), iter(staged_outs)
    return [next(staged_it) if u else next(known_it) for u in out_uk]


def _known_branch(known: Jaxpr, n_known: int, res_avals, which: int):
    """Branch `which`'s known part, returning every branch's residual slots."""
    def fun(*xs):
        outs = core.eval_jaxpr(known, [], *xs)
        slots = [[_placeholder(a) for a in avals] for avals in res_avals]
        slots[which] = outs[n_known:]
        return outs[:n_known] + [r for slot in slots for r in slot]
    return trace_program(fun, known.in_avals)


def _placeholder(aval):
    """Zeros in another branch's residual slot, of any dtype (integers included)."""
    return ew.full(aval.shape, 0, aval.dtype)


def _staged_branch(staged: Jaxpr, res_avals, which: int) -> Jaxpr:
    """Branch `which`'s staged part, taking every branch's residuals and using its own."""
    n_res = len(res_avals[which])
    leading = []
    for i, avals in enumerate(res_avals):
        leading += staged.invars[:n_res] if i == which else [Var(a) for a in avals]
    return intern(Jaxpr([], leading + staged.invars[n_res:], staged.outvars, staged.eqns))


partial_eval_rules[cond_p] = _cond_partial_eval


# ---------------------------------------------------------------- transpose
def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise TypeError("cond's index cannot be a linear input")
    linear = tuple(is_undefined(x) for x in ops)
    nonlinear = [x for x, lin in zip(ops, linear) if not lin]
    cts = [as_tangent(ct, a.strip_weak()) for ct, a in zip(cts, branches[0].out_avals)]
    new_branches, consts = merge_consts([transpose_program(b, linear) for b in branches])
    outs = cond_p.bind(index, *consts, *nonlinear, *cts, branches=tuple(new_branches))
    it = iter(outs)
    return [None] + [next(it) if lin else None for lin in linear]


transpose_rules[cond_p] = _cond_transpose


# ---------------------------------------------------------------- batching
def _cond_batch(axis, args, dims, *, branches):
    index, *ops = args
    index_dim, *op_dims = dims
    batched = tuple(d is not None for d in op_dims)
    ops = [moveaxis(x, d, 0) if d is not None else x for x, d in zip(ops, op_dims)]
    n_out = len(branches[0].outvars)
    if index_dim is not None:
        # Each example picks its own branch: run them all and select per example. A branch's
        # inputs carry no tangent for the examples that did not pick it, so that a derivative
        # that is infinite where a branch is not taken (sqrt at 0) cannot make the result nan.
        index = moveaxis(index, index_dim, 0)
        ops = [x if b else bdim_at_front(x, None, axis.size) for x, b in zip(ops, batched)]
        cases = []
        for i, b in enumerate(branches):
            program, consts, _ = batch_program(b, axis.name, axis.size, axis.kind,
                                               (True,) * len(ops), (True,) * n_out)
            taken = _is_index(index, i)
            guarded = [_no_tangent_unless(taken, x) for x in ops]
            cases.append(core.eval_jaxpr(program, [], *consts, *guarded))
        return [_select_by_index(index, outs) for outs in zip(*cases)], [0] * n_out
    out_batched = _union(batch_program(b, axis.name, axis.size, axis.kind, batched,
                                       (False,) * n_out)[2] for b in branches)
    new_branches, consts = merge_consts(
        [batch_program(b, axis.name, axis.size, axis.kind, batched, out_batched)[:2]
         for b in branches])
    outs = cond_p.bind(index, *consts, *ops, branches=tuple(new_branches))
    return outs, [0 if b else None for b in out_batched]


def _is_index(index, i: int):
    return ew.eq(index, ew.full(core.get_aval(index).shape, i, np.int32))


def _per_example(pred, x, on_true, on_false):
    """select with one predicate per example (the batch is the leading axis)."""
    return ew.select(broadcast_in_dim(pred, core.get_aval(x).shape, (0,)), on_true, on_false)


def _no_tangent_unless(pred, x):
    if not is_differentiable(core.get_aval(x)):
        return x
    return _per_example(pred, x, x, stop_gradient(x))


def _select_by_index(index, cases: Sequence):
    """cases[index[i]][i] for every example i (index has one entry per example)."""
    out = cases[0]
    for i, case in enumerate(cases[1:], start=1):
        out = _per_example(_is_index(index, i), case, case, out)
    return out


batching_rules[cond_p] = _cond_batch


# ---------------------------------------------------------------- the user's functions
def _is_host_value(x) -> bool:
    return not isinstance(x, Tracer) and not hasattr(x, "aval")


def _scalar_check(x, what: str):
    if x is None:
        raise TypeError("cond predicate is None")
    if isinstance(x, (list, tuple)):
        raise TypeError(f"{what} must be a scalar, got {x} of type {type(x)}")
    aval = core.get_aval(x)
    if aval.shape != ():
        raise TypeError(f"{what} must be a scalar, got {x} of shape {aval.shape}.")
    return aval


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """`true_fun(*operands)` if pred else `false_fun(*operands)`, staged as one primitive (both
    branches are traced and must return the same types). pred: a bool or number scalar."""
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    aval = _scalar_check(pred, "Pred")
    if aval.dtype != np.bool_ and not (dtypes.is_integer(aval.dtype)
                                       or dtypes.is_float(aval.dtype)):
        raise TypeError(f"Pred type must be either boolean or number, got {aval.dtype}.")
    if _is_host_value(pred):
        index = np.int32(bool(np.asarray(pred) != 0))
    else:
        if aval.dtype != np.bool_:
            pred = ew.ne(pred, ew.full((), 0, aval.dtype))
        index = ew.convert_element_type(pred, np.int32)
    return _bind_cond(index, (false_fun, true_fun), operands, order=(1, 0),
                      what=lambda i, j: "true_fun and false_fun output")


def switch(index, branches: Sequence[Callable], *operands):
    """`branches[clamp(0, index, len(branches) - 1)](*operands)`, staged as one primitive."""
    if not all(callable(b) for b in branches):
        raise TypeError("lax.switch: branches argument should be a sequence of callables.")
    if index is None:
        raise TypeError("switch index is None")
    aval = _scalar_check(index, "Branch index")
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"Index type must be an integer, got {index} as {aval.dtype}")
    branches = tuple(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    if len(branches) == 1:
        return branches[0](*operands)
    hi = len(branches) - 1
    if _is_host_value(index):
        index = np.int32(min(max(int(index), 0), hi))
    else:
        index = clamp(np.int32(0), ew.convert_element_type(index, np.int32), np.int32(hi))
    return _bind_cond(index, branches, operands, order=tuple(range(len(branches))),
                      what=lambda i, j: f"branch {i} and {j} outputs")


def _bind_cond(index, funs: Sequence[Callable], operands, order, what):
    ops, ops_tree = tree_util.tree_flatten(operands)
    ops_avals = avals_of(ops)
    traced = [trace_fun(f, ops_tree, ops_avals) for f in funs]
    first = order[0]
    for i in order[1:]:
        check_same_outputs(what(first, i), traced[first][2], traced[first][0].out_avals,
                           traced[i][2], traced[i][0].out_avals)
    # Outputs weakly typed in some branches only take the strong type in all.
    joined = join_weak_types([jaxpr.out_avals for jaxpr, _, _ in traced])
    for i, (jaxpr, _, _) in enumerate(traced):
        if jaxpr.out_avals != joined:
            traced[i] = trace_fun(_returning(funs[i], joined), ops_tree, ops_avals)
    branches, consts = merge_consts([(jaxpr, consts) for jaxpr, consts, _ in traced])
    outs = cond_p.bind(index, *consts, *ops, branches=tuple(branches))
    return tree_util.tree_unflatten(traced[0][2], outs)


def _returning(fun: Callable, avals) -> Callable:
    """`fun` with its output leaves converted to `avals` (only weak types differ)."""
    def wrapped(*args):
        leaves, tree = tree_util.tree_flatten(fun(*args))
        return tree_util.tree_unflatten(tree, [ew.convert_element_type(x, a.dtype, a.weak_type)
                                               for x, a in zip(leaves, avals)])
    return wrapped
