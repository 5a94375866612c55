"""check_vma: an out_spec that leaves a manual axis out promises that the result is the same
on every device along it. JAX checks the promise with the varying manual axes (vma) of every
value; here the same facts are inferred from the body: an argument varies along the axes its
in_spec splits it over, axis_index/ppermute/psum_scatter/all_to_all make a value vary along
their axes, psum/pmax/pmin/all_gather (over whole axes) make it the same along theirs, and
every other operation varies along the union of its operands' axes."""
from __future__ import annotations

from spmd.collectives import all_gather_p, pmax_p, pmin_p, psum_p, pvary_p
from spmd.transforms import batching, core
from spmd.transforms.core import Jaxpr, Literal
from spmd.transforms.jit import jit_p

_SAME_AFTER = {psum_p, pmax_p, pmin_p, all_gather_p}  # every participant gets one value


def varying_axes(jaxpr: Jaxpr, in_vma: list) -> list:
    """The manual axes each output of `jaxpr` varies along, given its inputs'."""
    env = {id(v): frozenset(a) for v, a in zip(jaxpr.invars, in_vma)}
    env.update((id(v), frozenset()) for v in jaxpr.constvars)

    def read(v):
        return frozenset() if isinstance(v, Literal) else env[id(v)]

    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        if eqn.prim is jit_p:  # a call: look inside
            outs = varying_axes(eqn.params["jaxpr"], ins)
        else:
            union = frozenset().union(*ins)
            axes_of = batching.axis_primitives.get(eqn.prim)
            if axes_of is not None:
                axes = frozenset(axes_of(eqn.params))
                if eqn.prim is pvary_p and union & axes:
                    _already_varying(union, eqn.params["axes"])
                grouped = eqn.params.get("axis_index_groups") is not None
                union = union - axes if eqn.prim in _SAME_AFTER and not grouped else union | axes
            else:  # control flow and other calls: whatever their bodies make vary, too
                union = union | _introduced(eqn.params)
            outs = [union] * len(eqn.outvars)
        env.update((id(v), a) for v, a in zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _already_varying(vma, axes):
    raise ValueError(
        f"pcast(..., to='varying') over axes {axes} was given a value that already varies "
        f"along {', '.join(repr(a) for a in axes if a in vma)} (it depends on an argument split "
        "over it, or on axis_index); cast only values that are the same along those axes")


def _introduced(params) -> frozenset:
    """The axes along which something inside a sub-program varies by itself."""
    found, todo = frozenset(), list(core.subprograms(params))
    while todo:
        for eqn in todo.pop().eqns:
            axes_of = batching.axis_primitives.get(eqn.prim)
            if axes_of is not None and eqn.prim not in _SAME_AFTER:
                found |= frozenset(axes_of(eqn.params))
            todo.extend(core.subprograms(eqn.params))
    return found


def check_out_replication(jaxpr: Jaxpr, in_specs, out_specs, manual_axes, name: str):
    """Raise when an out_spec leaves out a manual axis its result varies along."""
    outs = varying_axes(jaxpr, [frozenset(s.used_axis_names()) for s in in_specs])
    for i, (vma, spec) in enumerate(zip(outs, out_specs)):
        broken = [a for a in manual_axes if a in vma and a not in spec.used_axis_names()]
        if broken:
            raise ValueError(
                f"shard_map applied to the function {name!r} was given out_specs {spec} for "
                f"result {i}, which says it is the same on every device along mesh axis "
                f"{', '.join(repr(a) for a in broken)}, but it varies along it (it depends on "
                "an argument split over it, or on axis_index). Reduce it (psum, pmean, "
                "all_gather) or name the axis in out_specs; if it is the same in fact, pass "
                "check_vma=False to shard_map")
