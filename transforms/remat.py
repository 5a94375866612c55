"""checkpoint (remat): trade computation for memory in reverse mode.

`checkpoint(f)` stages `f` into a `checkpoint` call primitive. Evaluated, batched or lowered it
is just its sub-program. Its difference is in linearization: where an ordinary function hands
the backward pass every intermediate it needs (the residuals), a checkpointed one hands over
only its inputs (plus what `policy` allows it to keep) and stages the forward computation again
on the linear side, so the backward pass recomputes the residuals when it needs them. The
recomputation is visible in `make_jaxpr(grad(checkpoint(f)))`: the forward operations appear
again in the backward part of the program.

`prevent_cse=True` (the default) puts the recomputation's inputs through an optimization
barrier, so that XLA's common-subexpression elimination cannot merge the recomputation with
the original forward computation (which would undo the memory saving) when the whole gradient
is compiled as one program.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

from spmd.transforms import caches, core, dtypes, tree_util
from spmd.transforms.api import partial_args
from spmd.transforms.batching import batching_rules, vmap_flat
from spmd.transforms.core import AxisFrame, Jaxpr, Literal, Primitive, set_current_trace
from spmd.transforms.jit import jvp_jaxpr
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lowering import lower_jaxpr, lowering_rules
from spmd.transforms.optimization_barrier import optimization_barrier
from spmd.transforms.staging import (StagingTrace, closed_as_open, partial_eval_jaxpr,
                                     partial_eval_rules, trace_to_jaxpr)
from spmd.transforms.transpose import backward_pass, is_undefined, transpose_rules


# ---------------------------------------------------------------- policies
class checkpoint_policies:
    """Which intermediates a checkpointed function may keep for the backward pass instead of
    recomputing them, as JAX's `jax.checkpoint_policies`. A policy is called as
    `policy(prim, *input_avals, **params)` for each operation of the forward computation whose
    result the backward pass needs, and answers whether to save that result."""

    @staticmethod
    def nothing_saveable(prim, *avals, **params) -> bool:
        return False

    @staticmethod
    def everything_saveable(prim, *avals, **params) -> bool:
        return True

    @staticmethod
    def dots_saveable(prim, *avals, **params) -> bool:
        return prim.name == "dot_general"

    checkpoint_dots = dots_saveable

    @staticmethod
    def dots_with_no_batch_dims_saveable(prim, *avals, **params) -> bool:
        return prim.name == "dot_general" and not params["dimension_numbers"][1][0]


# ---------------------------------------------------------------- the primitive
checkpoint_p = Primitive("checkpoint", multiple_results=True)
checkpoint_p.def_abstract_eval(lambda *avals, jaxpr, prevent_cse, policy: jaxpr.out_avals)
core.impl_rules[checkpoint_p] = lambda *args, jaxpr, prevent_cse, policy: core.eval_jaxpr(
    jaxpr, [], *args)
lowering_rules[checkpoint_p] = lambda ctx, *args, jaxpr, prevent_cse, policy: lower_jaxpr(
    ctx, jaxpr, [], list(args))


def _restage(fun: Callable, avals) -> tuple[Jaxpr, list]:
    """Stage `fun` as an open program whose consts are its leading inputs."""
    return closed_as_open(trace_to_jaxpr(fun, list(avals), core.eval_trace))


def _checkpoint_jvp(primals, tangents, *, jaxpr, prevent_cse, policy):
    nonzeros = tuple(type(t) is not Zero for t in tangents)
    new, consts = jvp_jaxpr(jaxpr, nonzeros)
    outs = checkpoint_p.bind(*consts, *primals, *[t for t in tangents if type(t) is not Zero],
                             jaxpr=new, prevent_cse=prevent_cse, policy=policy)
    m = len(jaxpr.outvars)
    it = iter(outs[m:])
    return outs[:m], [next(it) if dtypes.is_inexact(a.dtype) else Zero(a)
                      for a in jaxpr.out_avals]


def _checkpoint_batch(axis, args, dims, *, jaxpr, prevent_cse, policy):
    n = len(jaxpr.outvars)

    def batched(*xs):
        return vmap_flat(lambda *ys: core.eval_jaxpr(jaxpr, [], *ys),
                         AxisFrame(axis.name, axis.size, axis.kind), xs, dims, [0] * n)
    new, consts = _restage(batched, [core.get_aval(a) for a in args])
    outs = checkpoint_p.bind(*consts, *args, jaxpr=new, prevent_cse=prevent_cse, policy=policy)
    return outs, [0] * n


jvp_rules[checkpoint_p] = _checkpoint_jvp
batching_rules[checkpoint_p] = _checkpoint_batch


# ---------------------------------------------------------------- linearization
def _saved_values(known: Jaxpr, residuals: Sequence, policy) -> list:
    """The variables of `known` the backward pass receives instead of recomputing: the results
    of the operations `policy` allows to save that the residuals depend on (not through another
    saved value). The known inputs are always available."""
    if policy is None:
        return []
    needed = {id(v) for v in residuals if not isinstance(v, Literal)}
    saved = []
    for eqn in reversed(known.eqns):
        outs_needed = [v for v in eqn.outvars if id(v) in needed]
        if not outs_needed:
            continue
        if policy(eqn.prim, *[v.aval for v in eqn.invars], **eqn.params):
            saved += outs_needed
        else:
            needed.update(id(v) for v in eqn.invars if not isinstance(v, Literal))
    return saved[::-1]


def _eval_with_saved(jaxpr: Jaxpr, args, saved_vars, saved_values, outvars) -> list:
    """Evaluate `jaxpr` on the current trace for `outvars`, taking `saved_vars` as given instead
    of computing the operations that produce them."""
    env = {id(v): x for v, x in zip(jaxpr.invars, args)}
    env.update((id(v), x) for v, x in zip(saved_vars, saved_values))

    def read(v):
        return v.val if isinstance(v, Literal) else env[id(v)]
    for eqn in jaxpr.eqns:
        if all(id(v) in env for v in eqn.outvars):
            continue
        out = eqn.prim.bind(*map(read, eqn.invars), **eqn.params)
        env.update(zip(map(id, eqn.outvars), out if eqn.prim.multiple_results else [out]))
    return [read(v) for v in outvars]


@caches.cached
def _split(jaxpr: Jaxpr, unknowns: tuple, policy):
    """The known side (known inputs -> known outputs and saved values) and the linear side
    ((known inputs, saved values, unknown inputs) -> unknown outputs, recomputing the residuals
    from the known inputs) of a checkpointed program. Both are (program, consts)."""
    known, staged, out_unknowns, num_res = partial_eval_jaxpr(jaxpr, unknowns)
    n_known_out = len(known.outvars) - num_res
    residuals = known.outvars[n_known_out:]
    saved = _saved_values(known, residuals, policy)
    n_known_in, n_saved = len(known.invars), len(saved)

    def known_side(*xs):
        return _eval_with_saved(known, xs, [], [], known.outvars[:n_known_out] + saved)

    def linear_side(*xs):
        res = _eval_with_saved(known, xs[:n_known_in], saved, xs[n_known_in:n_known_in + n_saved],
                               residuals)
        return core.eval_jaxpr(staged, [], *res, *xs[n_known_in + n_saved:])
    unknown_avals = [v.aval for v, u in zip(jaxpr.invars, unknowns) if u]
    known_prog = _restage(known_side, known.in_avals)
    linear_prog = _restage(linear_side, known.in_avals + [v.aval for v in saved] + unknown_avals)
    return known_prog, linear_prog, tuple(out_unknowns), n_known_out


def _checkpoint_partial_eval(trace: StagingTrace, args, params):
    """Under linearization: compute the known outputs now, and stage the unknown ones as a
    checkpoint that recomputes what it needs from the known inputs (and the saved values)."""
    unknowns = tuple(trace.owns(x) for x in args)
    (known, known_consts), (linear, linear_consts), out_unknowns, n_known_out = _split(
        params["jaxpr"], unknowns, params["policy"])
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with set_current_trace(trace.parent):
        known_results = checkpoint_p.bind(*known_consts, *known_args, **dict(params, jaxpr=known))
    saved = known_results[n_known_out:]
    unknown_args = [x for x, u in zip(args, unknowns) if u]
    staged = trace.stage(checkpoint_p, [*linear_consts, *known_args, *saved, *unknown_args],
                         dict(params, jaxpr=linear))
    known_it, staged_it = iter(known_results[:n_known_out]), iter(staged)
    return [next(staged_it) if u else next(known_it) for u in out_unknowns]


def _checkpoint_transpose(cts, *args, jaxpr, prevent_cse, policy):
    """The backward pass through the linear side: its non-linear operations (the
    recomputation) run first, then the linear ones are transposed."""
    linear = [is_undefined(a) for a in args]
    values = [a for a, lin in zip(args, linear) if not lin]
    if prevent_cse:
        values = optimization_barrier(values)
    as_linear = Jaxpr([v for v, lin in zip(jaxpr.invars, linear) if not lin],
                      [v for v, lin in zip(jaxpr.invars, linear) if lin], jaxpr.outvars, jaxpr.eqns)
    it = iter(backward_pass(as_linear, values, cts))
    return [next(it) if lin else None for lin in linear]


partial_eval_rules[checkpoint_p] = _checkpoint_partial_eval
transpose_rules[checkpoint_p] = _checkpoint_transpose


# ---------------------------------------------------------------- the user's function
def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Callable | None = None,
               static_argnums=()):
    """`fun`, but reverse mode recomputes its intermediates instead of storing them.

    `policy(prim, *avals, **params) -> bool` (see `checkpoint_policies`) names the
    intermediates worth saving anyway; the default saves nothing but the inputs.
    `static_argnums` marks arguments that are Python values (used in Python control flow);
    the others are traced, so `fun` cannot branch on their values.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if policy is not None and not callable(policy):
        raise TypeError(f"checkpoint policy must be a callable (see checkpoint_policies), got "
                        f"{policy!r}")

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        if core.current_trace() is core.eval_trace:
            return fun(*args, **kwargs)  # nothing is differentiated here: no residuals to save
        nums = {i % len(args) for i in static if -len(args) <= i < len(args)}
        dyn_nums = [i for i in range(len(args)) if i not in nums]
        leaves, in_tree = tree_util.tree_flatten(([args[i] for i in dyn_nums], kwargs))
        out_tree = []

        def flat(*xs):
            dyn, kw = tree_util.tree_unflatten(in_tree, xs)
            out_leaves, tree = tree_util.tree_flatten(partial_args(fun, args, kw, dyn_nums)(*dyn))
            out_tree.append(tree)
            return out_leaves
        jaxpr, consts = closed_as_open(trace_to_jaxpr(flat, [core.get_aval(x) for x in leaves]))
        outs = checkpoint_p.bind(*consts, *leaves, jaxpr=jaxpr, prevent_cse=bool(prevent_cse),
                                 policy=policy)
        return tree_util.tree_unflatten(out_tree[0], outs)
    return checkpointed


remat = checkpoint
