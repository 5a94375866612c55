"""custom_vmap_call: the call primitive behind `jax.custom_batching.custom_vmap`, with its rules.

A call holds the function staged as a sub-program (`call_jaxpr`; values it closes over are the
leading `num_consts` operands) and the user's vmap rule as a flat callable:

    rule(axis_size, in_batched, args) -> (outs, out_batched)

where `args` are the operands after the consts (batched ones with the mapped axis in front),
`in_batched` and `out_batched` one bool per value. Everything but vmap sees the sub-program:
eager evaluation, jit's lowering (inlined), forward mode. Under vmap the rule runs instead.

Forward mode follows JAX: the JVP is again a custom_vmap_call, of the sub-program's JVP, whose
rule is the JVP of the user's rule, vmapped over whatever only the primals or only the tangents
are batched along. Reverse mode cannot linearize that (the rule's primal outputs depend on the
staged tangents), which is JAX's error too: compose with custom_vjp for gradients.
"""
from __future__ import annotations

from typing import Callable, Sequence

from spmd.transforms import core, dtypes
from spmd.transforms.batching import (batching_rules, broadcast_batch, moveaxis,
                                      vmap_unrestricted)
from spmd.transforms.core import AxisFrame, Primitive
from spmd.transforms.jvp import Zero, instantiate, jvp_flat, jvp_rules
from spmd.transforms.lowering import lower_jaxpr, lowering_rules
from spmd.transforms.staging import closed_as_open, partial_eval_rules, trace_to_jaxpr

custom_vmap_call_p = Primitive("custom_vmap_call", multiple_results=True)


def bind_custom_vmap(fun: Callable, rule: Callable, args: Sequence, num_consts: int = 0) -> list:
    """Stage `fun(*args) -> list` and bind the call with `rule`; the first `num_consts` args are
    constants the rule does not see (the staged program's own consts join them)."""
    jaxpr, consts = closed_as_open(trace_to_jaxpr(fun, [core.get_aval(a) for a in args]))
    return custom_vmap_call_p.bind(*consts, *args, call_jaxpr=jaxpr,
                                   num_consts=len(consts) + num_consts, rule=rule)


def _rule_name(rule) -> str:
    return getattr(rule, "__name__", "<unnamed rule>")


# ---------------------------------------------------------------- evaluation and lowering
custom_vmap_call_p.def_abstract_eval(lambda *avals, call_jaxpr, **params: call_jaxpr.out_avals)
core.impl_rules[custom_vmap_call_p] = (
    lambda *args, call_jaxpr, **params: core.eval_jaxpr(call_jaxpr, [], *args))
lowering_rules[custom_vmap_call_p] = (
    lambda ctx, *args, call_jaxpr, **params: lower_jaxpr(ctx, call_jaxpr, [], list(args)))


# ---------------------------------------------------------------- vmap: the user's rule
def _custom_vmap_batch(axis, args, dims, *, call_jaxpr, num_consts, rule):
    if any(d is not None for d in dims[:num_consts]):
        raise ValueError(
            f"a custom_vmap function closes over a value that the enclosing vmap maps; its vmap "
            f"rule {_rule_name(rule)} only sees the function's arguments. Pass that value to the "
            f"custom_vmap function as an argument instead.")
    size = int(axis.size)
    xs = [x if d is None else moveaxis(x, d, 0)
          for x, d in zip(args[num_consts:], dims[num_consts:])]
    outs, out_batched = rule(size, [d is not None for d in dims[num_consts:]], xs)
    for i, (o, b, want) in enumerate(zip(outs, out_batched, call_jaxpr.out_avals)):
        shape = (size,) * bool(b) + tuple(want.shape)
        if tuple(core.get_aval(o).shape) != shape:
            raise ValueError(
                f"custom vmap rule {_rule_name(rule)} returned output {i} of shape "
                f"{tuple(core.get_aval(o).shape)} marked {'' if b else 'not '}batched, but the "
                f"function's output has shape {tuple(want.shape)} and the axis size is {size}: "
                f"expected shape {shape}")
    return list(outs), [0 if b else None for b in out_batched]


batching_rules[custom_vmap_call_p] = _custom_vmap_batch


# ---------------------------------------------------------------- forward mode
def _inexact(x) -> bool:
    return dtypes.is_inexact(core.get_aval(x).dtype)


def _with_zeros(given, has_tangent, primals):
    """One tangent per primal: the `given` ones in order, Zero where there is none."""
    it = iter(given)
    return [next(it) if h else Zero(core.get_aval(p)) for h, p in zip(has_tangent, primals)]


def _split(values, n):
    return list(values[:n]), list(values[n:])


def _jvp_outs(fun, primals, tangents, has_tangent):
    """fun's outputs followed by the tangents of its inexact outputs (zeros instantiated)."""
    outs, touts = jvp_flat(fun, primals, _with_zeros(tangents, has_tangent, primals))
    return list(outs) + [instantiate(t, core.get_aval(o)) for o, t in zip(outs, touts)
                         if _inexact(o)]


def _custom_vmap_jvp(primals, tangents, *, call_jaxpr, num_consts, rule):
    consts, xs = list(primals[:num_consts]), list(primals[num_consts:])
    const_nz = [type(t) is not Zero for t in tangents[:num_consts]]
    has_t = [_inexact(x) for x in xs]
    const_ts = [t for t, nz in zip(tangents[:num_consts], const_nz) if nz]
    ts = [instantiate(t, core.get_aval(x).strip_weak())
          for x, t, h in zip(xs, tangents[num_consts:], has_t) if h]
    has_t_all = [*const_nz, *has_t]

    def jvp_of_call(*vals):  # (consts, their tangents, args, their tangents)
        cs, rest = _split(vals, num_consts)
        cts, rest = _split(rest, len(const_ts))
        ps, pts = _split(rest, len(xs))
        return _jvp_outs(lambda *a: core.eval_jaxpr(call_jaxpr, [], *a), [*cs, *ps],
                         [*cts, *pts], has_t_all)

    outs = bind_custom_vmap(jvp_of_call, _JVPOfRule(rule, has_t), [*consts, *const_ts, *xs, *ts],
                            num_consts=num_consts + len(const_ts))
    n = len(call_jaxpr.out_avals)
    primal_outs, touts = outs[:n], iter(outs[n:])
    return primal_outs, [next(touts) if _inexact(o) else Zero(core.get_aval(o))
                         for o in primal_outs]


class _JVPOfRule:
    """The vmap rule of a custom_vmap_call's JVP: the JVP of the user's rule applied where
    primal and tangent are both batched, vmapped over the axis where only one of them is (the
    rule's outputs then count as batched), as JAX does. An integer argument has no tangent: it
    is batched only in its primal. Where some arguments are batched in both and others in one,
    the one-sided ones are broadcast to both (JAX vmaps them, and the rule's batched arguments
    then meet each example of theirs: an outer product over the axis)."""

    def __init__(self, rule, has_tangent: Sequence[bool]):
        self.rule, self.has_tangent = rule, list(has_tangent)
        self.__name__ = _rule_name(rule)

    def __repr__(self):
        return f"jvp({self.__name__})"

    def __call__(self, axis_size, in_batched, args):
        n = len(self.has_tangent)
        pb = list(in_batched[:n])
        given = iter(in_batched[n:])
        tb = [next(given) if h else False for h in self.has_tangent]
        if any(p and t for p, t in zip(pb, tb)):
            args, pb, tb = self._batch_both(axis_size, list(args), pb, tb)
        both = [p and t for p, t in zip(pb, tb)]
        rule_batched = []

        def rule_outs(*ps):
            outs, out_batched = self.rule(axis_size, both, list(ps))
            rule_batched.append(list(out_batched))
            return outs

        def jvp_of_rule(*vals):
            return _jvp_outs(rule_outs, *_split(vals, n), self.has_tangent)
        extra = [0 if p and not t else None for p, t in zip(pb, tb)]
        extra += [0 if t and not p else None
                  for p, t, h in zip(pb, tb, self.has_tangent) if h]
        outs, dims = vmap_unrestricted(jvp_of_rule, AxisFrame(None, axis_size, "vmap"),
                                       args, extra)
        outs = [o if d is None else moveaxis(o, d, 0) for o, d in zip(outs, dims)]
        batched = rule_batched[0]
        m = len(batched)
        t_batched = [b for b, o in zip(batched, outs[:m]) if _inexact(o)]
        out_batched = [b or d is not None for b, d in zip(batched + t_batched, dims)]
        return outs, out_batched


    def _batch_both(self, size, args, pb, tb):
        """Broadcast the unbatched side of every one-sided argument: (args, pb, tb)."""
        slots = iter(range(len(pb), len(args)))
        for i, h in enumerate(self.has_tangent):
            slot = next(slots) if h else None
            if not h:  # an integer: its primal alone decides
                tb[i] = pb[i]
            elif pb[i] and not tb[i]:
                args[slot], tb[i] = broadcast_batch(args[slot], size, 0), True
            elif tb[i] and not pb[i]:
                args[i], pb[i] = broadcast_batch(args[i], size, 0), True
        return args, pb, tb


def _linearize_error(trace, args, params):
    # Reverse mode stages the tangents; the JVP above feeds them to the rule with the primals,
    # so no primal output would be known. JAX's error, word for word.
    raise ValueError("Linearization failed to produce known values for all output primals. "
                     "This is typically caused by attempting to differentiate a function uses "
                     "an operation that does not support reverse-mode autodiff. (custom_vmap "
                     "functions do not: wrap one in custom_vjp to give it a gradient.)")


jvp_rules[custom_vmap_call_p] = _custom_vmap_jvp
partial_eval_rules[custom_vmap_call_p] = _linearize_error
