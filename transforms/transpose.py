"""Transposition of linear programs: the backward half of reverse mode.

A linear program (from `linearize_flat`) maps tangents to tangents; its transpose maps output
cotangents to input cotangents. Each linear primitive has a transpose rule
`rule(cts, *args, **params)` where the linear arguments are `UndefinedPrimal`s and the others
are values; it returns one cotangent (or None) per argument.
"""
from __future__ import annotations

from typing import Callable, Sequence

from spmd.transforms import core
from spmd.transforms.core import Jaxpr, Literal
from spmd.transforms.jvp import Zero, add_tangents

transpose_rules: dict[core.Primitive, Callable] = {}


class UndefinedPrimal:
    """A linear argument of a transpose rule: only its type is known."""
    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return type(x) is UndefinedPrimal


def backward_pass(jaxpr: Jaxpr, consts: Sequence, cts_out: Sequence) -> list:
    """Cotangents for the invars of `jaxpr` (all linear), given those of its outputs.

    Equations whose inputs are all non-linear (known values) are evaluated forward first; the
    linear ones are transposed in reverse order. Returns Zero for inputs that got no cotangent.
    """
    primal_env: dict[int, object] = {}
    linear: set[int] = {id(v) for v in jaxpr.invars}

    def read_primal(v):
        return v.val if isinstance(v, Literal) else primal_env[id(v)]

    primal_env.update((id(v), c) for v, c in zip(jaxpr.constvars, consts))
    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and id(v) in linear for v in eqn.invars):
            linear.update(id(v) for v in eqn.outvars)
            linear_eqns.append(eqn)
        else:
            out = eqn.prim.bind(*map(read_primal, eqn.invars), **eqn.params)
            primal_env.update(zip(map(id, eqn.outvars),
                                  out if eqn.prim.multiple_results else [out]))

    ct_env: dict[int, object] = {}

    def write_ct(v, ct):
        if ct is None or type(ct) is Zero or isinstance(v, Literal):
            return
        ct_env[id(v)] = add_tangents(ct_env[id(v)], ct) if id(v) in ct_env else ct

    for v, ct in zip(jaxpr.outvars, cts_out):
        if not isinstance(v, Literal) and id(v) in linear:
            write_ct(v, ct)

    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(id(v), Zero(v.aval)) for v in eqn.outvars]
        if all(type(c) is Zero for c in cts):
            continue
        args = [UndefinedPrimal(v.aval) if not isinstance(v, Literal) and id(v) in linear
                else read_primal(v) for v in eqn.invars]
        rule = core.rule_for(transpose_rules, eqn.prim, "transposition (reverse-mode grad/vjp)")
        cts_in = rule(cts if eqn.prim.multiple_results else cts[0], *args, **eqn.params)
        for v, a, ct in zip(eqn.invars, args, cts_in):
            if is_undefined(a):
                write_ct(v, ct)
    return [ct_env.get(id(v), Zero(v.aval)) for v in jaxpr.invars]


def deftranspose_linear(prim: core.Primitive, transpose_fn: Callable):
    """Register a transpose rule for a primitive linear in its first argument only:
    `transpose_fn(ct, *args, **params)` returns the first argument's cotangent."""
    def rule(ct, *args, **params):
        if type(ct) is Zero:
            return [None] * len(args)
        return [transpose_fn(ct, *args, **params)] + [None] * (len(args) - 1)
    transpose_rules[prim] = rule
