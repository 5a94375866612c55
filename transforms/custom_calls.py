"""The call primitives behind custom_jvp and custom_vjp, with all their rules.

A call's params carry the function and the user's rule as flat Python callables (hashable by
identity). Until a staging trace records it, the function stays a callable, so eager code and
grad/vmap of eager code run the user's Python as written (Python control flow on concrete values
included). A staging trace (jit, make_jaxpr, a control-flow body) traces the callable into a
sub-program first (`call_jaxpr`); values it closes over become leading operands (`num_consts`),
and the rule is kept as is, so `grad(jit(f))` still uses it.

- custom_jvp_call: its JVP rule calls the rule; under vmap both the function and the rule are
  vmapped; lowering inlines the sub-program.
- custom_vjp_call: its JVP rule runs fwd on the primal side and binds `custom_lin`, a primitive
  linear in the tangents whose transpose calls bwd. Linearization stages custom_lin into the
  linear program; pure forward mode evaluates it, which is JAX's error.

The flat protocols (transforms/custom_derivatives.py adapts the user's pytree functions):
  fun(*operands) -> outs
  jvp(primals, tangents) -> (outs, tangents)        tangents may be symbolic Zeros
  fwd(primals) -> (outs, residuals, residual_tree)
  bwd(residual_tree, residuals, cts) -> cts_in      None: no cotangent (integers, zeros)
where primals exclude the leading `num_consts` operands.
"""
from __future__ import annotations

from typing import Callable

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, moveaxis, vmap_flat
from spmd.transforms.core import AxisFrame, Primitive
from spmd.transforms.jvp import Zero, instantiate, jvp_rules
from spmd.transforms.lax import reduce_sum
from spmd.transforms.lowering import lower_jaxpr, lowering_rules
from spmd.transforms.staging import StagingTrace, closed_as_open, trace_to_jaxpr
from spmd.transforms.transpose import transpose_rules


# ---------------------------------------------------------------- call primitives
class CustomCallPrimitive(Primitive):
    """A call primitive whose `fun` param is a flat callable until a staging trace records it;
    then it becomes `call_jaxpr`, with the callable's closed-over values as leading operands."""

    def __init__(self, name):
        super().__init__(name, multiple_results=True)

    def bind(self, *args, **params):
        trace = core.current_trace()
        if "fun" in params and _stages(trace, args):
            avals = [core.get_aval(x) for x in args]
            jaxpr, consts = closed_as_open(trace_to_jaxpr(params["fun"], avals))
            if not all(_visible_from(trace, c) for c in consts):
                raise _closure_error(self.name)
            params = dict(params, num_consts=params["num_consts"] + len(consts))
            params = dict(call_jaxpr=jaxpr, **{k: v for k, v in params.items() if k != "fun"})
            args = tuple(consts) + tuple(args)
        return trace.process_primitive(self, args, params)


def _visible_from(trace, x) -> bool:
    """Whether `x` is a value `trace` may use: concrete, or a tracer of it or an enclosing trace
    (not of a transform nested inside it, which is what a custom function applied under grad or
    vmap sees when it closes over that transform's traced values)."""
    if not isinstance(x, core.Tracer):
        return True
    while trace is not None:
        if x._trace is trace:
            return True
        trace = trace.parent
    return False


def _closure_error(name: str) -> TypeError:
    kind = name.replace("_call", "")
    return TypeError(
        f"Detected differentiation of a {kind} function with respect to a closed-over value. "
        f"That isn't supported because the custom rule only specifies how to differentiate the "
        f"{kind} function with respect to explicit input parameters (a closed-over value traced "
        f"by an enclosing grad, jvp or vmap). Try passing the closed-over value into the {kind} "
        f"function as an argument, and adapting the {kind} rule.")


def _run_callable(prim, fun, args):
    """Eager evaluation of a call: the callable on concrete values. A tracer it closes over
    can only belong to a transform the call was lifted out of, i.e. a closed-over value."""
    try:
        return fun(*args)
    except core.EscapedTracerError as e:
        raise _closure_error(prim.name) from e


def _stages(trace, args) -> bool:
    """Whether `trace` records the operation (a folding trace computes known ones now)."""
    return isinstance(trace, StagingTrace) and (
        not trace.fold_known or any(trace.owns(x) for x in args))


def _fun_of(params) -> Callable:
    """The flat function of a call, callable or staged."""
    if "fun" in params:
        return params["fun"]
    jaxpr = params["call_jaxpr"]
    return lambda *xs: core.eval_jaxpr(jaxpr, [], *xs)


def _declare_call(name: str) -> CustomCallPrimitive:
    prim = CustomCallPrimitive(name)
    prim.def_abstract_eval(lambda *avals, call_jaxpr, **params: call_jaxpr.out_avals)
    core.impl_rules[prim] = lambda *args, **params: _run_callable(prim, _fun_of(params), args)
    lowering_rules[prim] = lambda ctx, *args, call_jaxpr, **params: lower_jaxpr(
        ctx, call_jaxpr, [], list(args))
    return prim


custom_jvp_call_p = _declare_call("custom_jvp_call")
custom_vjp_call_p = _declare_call("custom_vjp_call")


def _check_closure_not_differentiated(const_tangents, prim):
    if any(type(t) is not Zero for t in const_tangents):
        raise _closure_error(prim.name)


# ---------------------------------------------------------------- vmap of flat callables
def _vmapped(fun: Callable, axis, dims) -> Callable:
    """`fun(*xs) -> list` mapped over `dims` (None: unmapped); every output mapped at axis 0."""
    def batched(*args):
        count = []

        def counted(*xs):
            outs = list(fun(*xs))
            count.append(len(outs))
            return outs
        return vmap_flat(counted, AxisFrame(axis.name, axis.size, axis.kind), args, dims,
                         lambda: [0] * count[0])
    return batched


def _split_zeros(values):
    """(the non-Zero values, their positions as flags)."""
    flags = tuple(type(v) is not Zero for v in values)
    return [v for v, f in zip(values, flags) if f], flags


def _fill_zeros(values, flags, avals):
    it = iter(values)
    return [next(it) if f else Zero(a) for f, a in zip(flags, avals)]


# ---------------------------------------------------------------- custom_jvp_call rules
def _custom_jvp_call_jvp(primals, tangents, *, jvp, num_consts, **params):
    _check_closure_not_differentiated(tangents[:num_consts], custom_jvp_call_p)
    return jvp(list(primals[num_consts:]), list(tangents[num_consts:]))


def _custom_jvp_call_batch(axis, args, dims, *, jvp, num_consts, **params):
    fun = _vmapped(_fun_of(params), axis, dims)
    arg_dims = dims[num_consts:]

    def batched_jvp(primals, tangents):
        nz_tangents, nz = _split_zeros(tangents)
        out_flags = []

        def one_example(*xs):
            ps = list(xs[:len(primals)])
            outs, touts = jvp(ps, _fill_zeros(xs[len(primals):], nz, map(core.get_aval, ps)))
            kept, flags = _split_zeros(touts)
            out_flags.append((len(outs), flags))
            return list(outs) + kept
        res = _vmapped(one_example, axis, list(arg_dims) + [d for d, f in zip(arg_dims, nz) if f])(
            *primals, *nz_tangents)
        n, flags = out_flags[0]
        return res[:n], _fill_zeros(res[n:], flags, map(core.get_aval, res[:n]))
    outs = custom_jvp_call_p.bind(*args, fun=fun, jvp=batched_jvp, num_consts=num_consts)
    return outs, [0] * len(outs)


jvp_rules[custom_jvp_call_p] = _custom_jvp_call_jvp
batching_rules[custom_jvp_call_p] = _custom_jvp_call_batch


# ---------------------------------------------------------------- custom_vjp_call rules
def _forward_mode_error(*args, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function. Use "
                    "reverse mode (grad, vjp, jacrev), or define the function with custom_jvp.")


# custom_lin: the tangent side of a custom_vjp call. Linear in its tangent operands (after the
# `num_res` residuals); only its transpose (the user's bwd) can be computed.
custom_lin_p = Primitive("custom_lin", multiple_results=True)
custom_lin_p.def_abstract_eval(lambda *avals, out_avals, **params: list(out_avals))
core.impl_rules[custom_lin_p] = _forward_mode_error
lowering_rules[custom_lin_p] = _forward_mode_error
batching_rules[custom_lin_p] = _forward_mode_error
jvp_rules[custom_lin_p] = _forward_mode_error


def _custom_lin_transpose(cts, *args, num_res, bwd, nonzeros, out_avals):
    cts = [instantiate(ct, a) for ct, a in zip(cts, out_avals)]
    cts_in = bwd(list(args[:num_res]), cts)
    return [None] * num_res + [ct for ct, nz in zip(cts_in, nonzeros) if nz]


transpose_rules[custom_lin_p] = _custom_lin_transpose


def _custom_vjp_call_jvp(primals, tangents, *, fwd, bwd, num_consts, **params):
    _check_closure_not_differentiated(tangents[:num_consts], custom_vjp_call_p)
    outs, res, res_tree = fwd(list(primals[num_consts:]))
    nz_tangents, nonzeros = _split_zeros(tangents[num_consts:])
    out_avals = [core.get_aval(o) for o in outs]
    inexact = [dtypes.is_inexact(a.dtype) for a in out_avals]
    if not any(inexact) or not nz_tangents:
        return outs, [Zero(a) for a in out_avals]

    def bwd_of_inexact_outputs(res_values, cts):
        it = iter(cts)  # integer outputs get no cotangent
        return bwd(res_tree, res_values, [next(it) if i else None for i in inexact])
    lin_avals = tuple(a.strip_weak() for a, i in zip(out_avals, inexact) if i)
    touts = iter(custom_lin_p.bind(*res, *nz_tangents, num_res=len(res),
                                   bwd=bwd_of_inexact_outputs, nonzeros=nonzeros,
                                   out_avals=lin_avals))
    return outs, [next(touts) if i else Zero(a) for a, i in zip(out_avals, inexact)]


def _custom_vjp_call_batch(axis, args, dims, *, fwd, bwd, num_consts, **params):
    fun = _vmapped(_fun_of(params), axis, dims)
    arg_dims = list(dims[num_consts:])
    res_trees = []

    def fwd_one(*xs):
        outs, res, res_tree = fwd(list(xs))
        res_trees.append((len(outs), res_tree))
        return list(outs) + list(res)

    def batched_fwd(primals):  # outputs and residuals all mapped at axis 0
        both = _vmapped(fwd_one, axis, arg_dims)(*primals)
        n, res_tree = res_trees[-1]
        return both[:n], both[n:], res_tree

    def batched_bwd(res_tree, res, cts):
        present = [c is not None for c in cts]
        ct_flags = []

        def bwd_one(*xs):
            it = iter(xs[len(res):])
            cts_in = bwd(res_tree, list(xs[:len(res)]), [next(it) if p else None for p in present])
            ct_flags.append([c is not None for c in cts_in])
            return [c for c in cts_in if c is not None]
        given = [c for c in cts if c is not None]
        got = iter(_vmapped(bwd_one, axis, [0] * (len(res) + len(given)))(*res, *given))
        return [_unbatch_cotangent(next(got), d) if f else None
                for f, d in zip(ct_flags[0], arg_dims)]
    outs = custom_vjp_call_p.bind(*args, fun=fun, fwd=batched_fwd, bwd=batched_bwd,
                                  num_consts=num_consts)
    return outs, [0] * len(outs)


def _unbatch_cotangent(ct, dim):
    """A cotangent computed per example (axis 0) laid out like its primal: moved to the primal's
    batch axis, or summed over the batch for an unbatched primal (the transpose of broadcast)."""
    if dim is None:
        return reduce_sum(ct, (0,))
    return moveaxis(ct, 0, dim)


jvp_rules[custom_vjp_call_p] = _custom_vjp_call_jvp
batching_rules[custom_vjp_call_p] = _custom_vjp_call_batch
