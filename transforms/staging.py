"""Staging: record the primitives applied to tracers as a program (the IR of core.py).

`StagingTrace` is what jit, make_jaxpr and control-flow bodies trace with. With
`fold_known=True` it is also the partial evaluator behind linearization: an operation none of
whose inputs are this trace's tracers is computed now on the parent trace instead of staged, so
only the part that depends on the staged inputs (the tangents) ends up in the program, and the
known values it uses become the program's constants (the residuals).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, jaxpr_checks, tracer_leaks
from spmd.transforms.config import config
from spmd.transforms.core import (ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray, Trace, Tracer, Var,
                                  get_aval, set_current_trace)
from spmd.transforms.scopes import compile_time_eval_active, current_scope

# partial_eval_rules[prim](trace, args, params): how a folding trace stages an operation whose
# inputs are part known, part staged (call and control-flow primitives split their sub-program).
partial_eval_rules: dict[core.Primitive, Callable] = {}


class StagingTracer(Tracer):
    __slots__ = ("_aval", "_var")  # not `var`: that name is the array method x.var()

    def __init__(self, trace: "StagingTrace", aval: ShapedArray, var: Var):
        self._trace, self._aval, self._var = trace, aval, var

    @property
    def aval(self):
        return self._aval


class StagingTrace(Trace):
    def __init__(self, parent: Trace | None = None, fold_known: bool = False):
        self.parent = parent if parent is not None else core.current_trace()
        self.fold_known = fold_known
        self.eqns: list[Eqn] = []
        self.invars: list[Var] = []
        self.const_vars: dict[int, tuple[Var, object]] = {}
        self.alive = True

    def is_alive(self):
        return self.alive

    def new_arg(self, aval: ShapedArray) -> StagingTracer:
        var = Var(aval)
        self.invars.append(var)
        return StagingTracer(self, aval, var)

    def owns(self, x) -> bool:
        return isinstance(x, StagingTracer) and x._trace is self

    def to_var(self, x):
        """The program variable for a value: its own var, a literal, or a new constant."""
        if self.owns(x):
            return x._var
        if isinstance(x, StagingTracer) and not x._trace.alive:
            raise core.EscapedTracerError(
                f"a traced value {x.aval.str_short()} escaped from a finished jit/vmap/pmap/"
                "control-flow trace and was used in another. Return it from the traced function "
                "instead of storing it in a global or a closure.")
        if _is_scalar_literal(x):
            return Literal(x, get_aval(x))
        entry = self.const_vars.get(id(x))
        if entry is None:
            entry = self.const_vars[id(x)] = (Var(get_aval(x)), x)
        return entry[0]

    def process_primitive(self, prim, args, params):
        if compile_time_eval_active() and not any(isinstance(x, Tracer) for x in args):
            with set_current_trace(core.eval_trace):  # spmd.ensure_compile_time_eval
                return prim.bind(*args, **params)
        if self.fold_known and not any(self.owns(x) for x in args):
            with set_current_trace(self.parent):
                return prim.bind(*args, **params)
        if self.fold_known and prim in partial_eval_rules:
            return partial_eval_rules[prim](self, args, params)
        return self.stage(prim, args, params)

    def stage(self, prim, args, params):
        invars = [self.to_var(x) for x in args]
        out_avals = core.out_avals_of(prim, [v.aval for v in invars], params)
        outs = [StagingTracer(self, a, Var(a)) for a in out_avals]
        self.eqns.append(Eqn(prim, invars, [t._var for t in outs], params, current_scope()))
        return outs if prim.multiple_results else outs[0]

    def finish(self, outs: Sequence) -> ClosedJaxpr:
        """The recorded program with `outs` as its results. Ends the trace."""
        outvars = [self.to_var(x) for x in outs]
        consts = [val for _, val in self.const_vars.values()]
        constvars = [var for var, _ in self.const_vars.values()]
        self.alive = False
        jaxpr = Jaxpr(constvars, self.invars, outvars, self.eqns)
        return ClosedJaxpr(*_prune(jaxpr, consts))


def _is_scalar_literal(x) -> bool:
    return (isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)) or (
        isinstance(x, np.generic))


def _prune(jaxpr: Jaxpr, consts):
    """Drop equations whose results nothing uses (effect-free primitives only) and unused consts."""
    live = {id(v) for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(id(v) in live for v in eqn.outvars) or getattr(eqn.prim, "has_effects", False):
            kept.append(eqn)
            live.update(id(v) for v in eqn.invars if isinstance(v, Var))
    kept.reverse()
    used = [(v, c) for v, c in zip(jaxpr.constvars, consts) if id(v) in live]
    constvars = [v for v, _ in used]
    return Jaxpr(constvars, jaxpr.invars, jaxpr.outvars, kept), [c for _, c in used]


def trace_to_jaxpr(fun: Callable, in_avals: Sequence[ShapedArray], parent: Trace | None = None
                   ) -> ClosedJaxpr:
    """Stage `fun(*flat_args) -> flat_outs` into a closed program. Values from enclosing traces
    that `fun` closes over become the program's consts."""
    trace = StagingTrace(parent)
    args = [trace.new_arg(a) for a in in_avals]
    try:
        with set_current_trace(trace):
            outs = fun(*args)
        closed = trace.finish(outs)
    finally:
        trace.alive = False
    if config.check_tracer_leaks:
        del args, outs  # (this frame's own references are no leak)
        tracer_leaks.check(trace)
    if config.enable_checks:
        jaxpr_checks.check_jaxpr(closed.jaxpr)
    return closed


def closed_as_open(closed: ClosedJaxpr) -> tuple[Jaxpr, list]:
    """The program with its constvars turned into leading invars, and the const values: how a
    call primitive passes consts, so that enclosing traces see them as ordinary inputs."""
    j = closed.jaxpr
    return Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns), closed.consts


def partial_eval_jaxpr(jaxpr: Jaxpr, unknowns: Sequence[bool],
                       instantiate: bool | Sequence[bool] = False):
    """Split a program whose inputs are part known, part unknown.

    Returns (known, staged, out_unknowns, num_residuals): `known` takes the known inputs and
    returns the known outputs followed by the residuals; `staged` takes the residuals followed by
    the unknown inputs and returns the unknown outputs. Done by tracing `jaxpr` once with the
    known inputs on a staging trace and the unknown ones on a folding trace above it.
    Outputs with `instantiate` set are unknown even when computable now (their known value
    becomes a residual): loop carries need one fixed known/unknown split.
    """
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * len(jaxpr.outvars)
    known_trace = StagingTrace(core.eval_trace)
    unknown_trace = StagingTrace(known_trace, fold_known=True)
    args = [unknown_trace.new_arg(v.aval) if u else known_trace.new_arg(v.aval)
            for v, u in zip(jaxpr.invars, unknowns)]
    with set_current_trace(unknown_trace):
        outs = core.eval_jaxpr(jaxpr, [], *args)
    out_unknowns = [unknown_trace.owns(x) or bool(i) for x, i in zip(outs, instantiate)]
    staged = unknown_trace.finish([x for x, u in zip(outs, out_unknowns) if u])
    residuals = staged.consts
    known_outs = [x for x, u in zip(outs, out_unknowns) if not u]
    known = known_trace.finish(known_outs + residuals)
    known_open, known_consts = closed_as_open(known)
    assert not known_consts, "a program with no consts has no known consts"
    staged_jaxpr = Jaxpr([], staged.jaxpr.constvars + staged.jaxpr.invars,
                         staged.jaxpr.outvars, staged.jaxpr.eqns)
    return known_open, staged_jaxpr, out_unknowns, len(residuals)
