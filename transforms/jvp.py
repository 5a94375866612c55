"""Forward mode (JVP) and linearization.

A `JVPTrace` carries (primal, tangent) pairs through each primitive with that primitive's JVP
rule. Linearization is the same trace with its tangents staged: the rule runs under a folding
`StagingTrace`, so primal work is computed now and only the tangent (linear) part is recorded,
as a program whose constants are the residuals. Reverse mode transposes that program.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes, tracer_leaks
from spmd.transforms.config import config
from spmd.transforms.core import ShapedArray, Trace, Tracer, set_current_trace
from spmd.transforms.staging import StagingTrace
from spmd.transforms.trace_primitives import add_any_p, broadcast_in_dim_p

# jvp_rules[prim](primals, tangents, **params) -> (primal_out, tangent_out); a tangent may be Zero
jvp_rules: dict[core.Primitive, Callable] = {}


class Zero:
    """A tangent known to be zero, never materialized unless something needs its values."""
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval.tangent_aval()

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


def zeros_like_aval(aval: ShapedArray):
    # lax.full(aval.shape, 0, aval.dtype), bound here because the lax layer sits above this one
    zero = np.asarray(0, dtype=dtypes.canonicalize(aval.dtype))[()]
    return broadcast_in_dim_p.bind(zero, shape=tuple(int(d) for d in aval.shape),
                                   broadcast_dimensions=())


def instantiate(t, aval: ShapedArray | None = None):
    """A tangent as an array: symbolic zeros become real zeros of the primal's type."""
    if type(t) is Zero:
        a = aval if aval is not None else t.aval
        if a.dtype == dtypes.float0:
            raise TypeError("integer and boolean values have no tangent (float0)")
        return zeros_like_aval(a.strip_weak())
    return t


def add_tangents(a, b):
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    return add_any_p.bind(a, b)


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self):
        return core.get_aval(self.primal)

    def to_concrete(self, operation):
        if isinstance(self.primal, Tracer):
            return self.primal.to_concrete(operation)
        return self.primal


class JVPTrace(Trace):
    """`tangent_trace` is where the rules run: the parent for forward mode, a folding staging
    trace for linearization."""

    def __init__(self, parent: Trace, tangent_trace: Trace | None = None):
        self.parent = parent
        self.tangent_trace = tangent_trace or parent

    def lift(self, x):
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        return x, Zero(core.get_aval(x))

    def process_primitive(self, prim, args, params):
        primals, tangents = zip(*map(self.lift, args)) if args else ((), ())
        if all(type(t) is Zero for t in tangents):
            with set_current_trace(self.parent):
                return prim.bind(*primals, **params)
        rule = core.rule_for(jvp_rules, prim, "differentiation (jvp/grad)")
        with set_current_trace(self.tangent_trace):
            primal_out, tangent_out = rule(list(primals), list(tangents), **params)
        if prim.multiple_results:
            return [self.pack(p, t) for p, t in zip(primal_out, tangent_out)]
        return self.pack(primal_out, tangent_out)

    def pack(self, primal, tangent):
        if type(tangent) is Zero:
            return primal
        return JVPTracer(self, primal, tangent)


# ---------------------------------------------------------------- rule helpers
def defjvp(prim: core.Primitive, *tangent_fns):
    """JVP of a primitive from one function per argument: `fn(t, *primals, **params)` gives the
    argument's contribution to the output tangent (None for a non-differentiable argument)."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        total = Zero(core.get_aval(out))
        for fn, t in zip(tangent_fns, tangents):
            if fn is not None and type(t) is not Zero:
                total = add_tangents(total, fn(t, *primals, **params))
        return out, total
    jvp_rules[prim] = rule


def defjvp_with_output(prim: core.Primitive, *tangent_fns):
    """Like defjvp, but each function also receives the primal output: `fn(t, out, *primals)`."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        total = Zero(core.get_aval(out))
        for fn, t in zip(tangent_fns, tangents):
            if fn is not None and type(t) is not Zero:
                total = add_tangents(total, fn(t, out, *primals, **params))
        return out, total
    jvp_rules[prim] = rule


# Primitives whose JVP applies them to tangents, so that reverse mode must transpose them: each
# needs a transpose rule (tests/transforms/test_rule_coverage.py checks). `deflinear` adds its
# primitive; one linear in only some operands, with its own JVP rule, adds itself.
linear_primitives: set[core.Primitive] = set()


def deflinear(prim: core.Primitive):
    """A primitive linear in all its arguments: its JVP applies it to the tangents."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        ts = [instantiate(t, core.get_aval(p)) for p, t in zip(primals, tangents)]
        return out, prim.bind(*ts, **params)
    jvp_rules[prim] = rule
    linear_primitives.add(prim)


def defjvp_zero(prim: core.Primitive):
    """A primitive whose output carries no tangent (integer or boolean results, comparisons)."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [Zero(core.get_aval(o)) for o in out]
        return out, Zero(core.get_aval(out))
    jvp_rules[prim] = rule


# ---------------------------------------------------------------- flat entry points
def jvp_flat(fun: Callable, primals: Sequence, tangents: Sequence):
    """Push tangents through `fun(*primals) -> list`: returns (primal outs, tangent outs)."""
    trace = JVPTrace(core.current_trace())
    ins = [JVPTracer(trace, p, t) if type(t) is not Zero else p for p, t in zip(primals, tangents)]
    with set_current_trace(trace):
        outs = fun(*ins)
    lifted = [trace.lift(o) for o in outs]
    if config.check_tracer_leaks:
        del ins, outs  # (this frame's own references are no leak)
        tracer_leaks.check(trace)
    return [p for p, _ in lifted], [t for _, t in lifted]


def linearize_flat(fun: Callable, primals: Sequence, wrt: Sequence[bool] | None = None):
    """Evaluate `fun(*primals) -> list` and stage its linearization.

    Returns (primal outs, linear program, out tangent is-zero flags). The program takes one tangent
    per primal with `wrt` set and returns the non-zero output tangents; its consts are residuals.
    """
    wrt = [True] * len(primals) if wrt is None else list(wrt)
    parent = core.current_trace()
    tangent_trace = StagingTrace(parent, fold_known=True)
    trace = JVPTrace(parent, tangent_trace)
    ins = []
    for p, w in zip(primals, wrt):
        aval = core.get_aval(p)
        if w and dtypes.is_inexact(aval.dtype):
            ins.append(JVPTracer(trace, p, tangent_trace.new_arg(aval.strip_weak())))
        else:
            if w:
                tangent_trace.new_arg(aval.tangent_aval())  # keeps argument positions aligned
            ins.append(p)
    try:
        with set_current_trace(trace):
            outs = fun(*ins)
        lifted = [trace.lift(o) for o in outs]
        out_zero = [type(t) is Zero or not tangent_trace.owns(t) for _, t in lifted]
        program = tangent_trace.finish([t for (_, t), z in zip(lifted, out_zero) if not z])
    finally:
        tangent_trace.alive = False
    if config.check_tracer_leaks:
        del ins, outs
        tracer_leaks.check(trace)
    return [p for p, _ in lifted], program, out_zero
