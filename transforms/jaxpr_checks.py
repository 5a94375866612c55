"""JAX's `jax_enable_checks`: every program staged while it is on is type-checked before it is
used: each variable is defined before it is read, and each equation's outputs have the shapes
and dtypes its primitive's shape rule gives for its inputs (sub-programs in params included).
A failure is spmd's own bug (or a custom rule's), reported as JAX reports it: JaxprTypeError."""
from __future__ import annotations

from spmd.transforms import core
from spmd.transforms.core import ClosedJaxpr, Jaxpr, Var


class JaxprTypeError(TypeError):
    """A staged program is ill-typed (raised only with enable_checks)."""


def check_jaxpr(jaxpr: Jaxpr) -> None:
    defined = set(map(id, jaxpr.constvars + jaxpr.invars))

    def read(v, where):
        if isinstance(v, Var) and id(v) not in defined:
            raise JaxprTypeError(f"Variable of type {v.aval.str_short()} is read by {where} "
                                 "before any equation defines it")
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.prim.name})"
        for v in eqn.invars:
            read(v, where)
        for sub in _sub_programs(eqn.params):
            check_jaxpr(sub)
        expected = core.out_avals_of(eqn.prim, [v.aval for v in eqn.invars], eqn.params)
        got = [v.aval for v in eqn.outvars]
        if len(expected) != len(got) or any(
                (e.shape, e.dtype) != (g.shape, g.dtype) for e, g in zip(expected, got)):
            raise JaxprTypeError(
                f"{where} has outputs [{', '.join(a.str_short() for a in got)}], but its shape "
                f"rule gives [{', '.join(a.str_short() for a in expected)}] for inputs "
                f"[{', '.join(v.aval.str_short() for v in eqn.invars)}]")
        defined.update(map(id, eqn.outvars))
    for v in jaxpr.outvars:
        read(v, "the program's outputs")


def _sub_programs(params: dict):
    for value in params.values():
        for item in (value if isinstance(value, tuple) else (value,)):
            if isinstance(item, ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, Jaxpr):
                yield item
