"""The `pmap` primitive: how a pmap called inside grad, jvp or vmap (on their traced values) is
transformed. At the top level pmap runs its compiled program directly (spmd/pmap.py); under a
transform it binds this call primitive, whose rules transform the per-device program and map
the result again, as JAX's xla_pmap does:

- jvp: pmap of the per-device JVP (tangents mapped like their primals);
- linearize (partial evaluation): a known pmap runs now and hands its per-device residuals,
  mapped, to the staged one;
- transpose: pmap of the per-device transpose. A broadcast (in_axes=None) input was used by every
  device, so its cotangent is summed over them (psum); an out_axes=None output is one value
  held by every device, so each device takes 1/N of its cotangent.
- vmap: pmap of the vmapped per-device program (the batch axis right after the mapped one).
- lowering, for a pmap left inside a compiled program: nested in another pmap (or a
  shard_map), in an eager cond or loop, or with an axis name that is not a string (a pmap
  traced inside jit is a shard_map over its devices instead: spmd/pmap_in_jit.py): the
  per-device program vmapped over the mapped axis under the same name, computed on the
  enclosing program's device(s), its collectives batched operations. In a job of several
  processes only the nested form works (a jitted pmap would need the other processes'
  devices).

Params: `jaxpr` (per device, consts as leading inputs), `axis_name`, `axis_size`, `in_dims` and
`out_dims` (0: mapped along the leading axis; None: broadcast / one device's value),
`devices` (a tuple, or None for the first local devices) and `name`. `axis_size` is the
mapped size on this process; in a job of several processes the axis spans every process's
devices (`_global_size`), which is the size collectives and cotangent shares see.
"""
from __future__ import annotations

import contextlib

import numpy as np

from spmd.collectives.axes import ReplicaAxes
from spmd.collectives.psum import psum_p
from spmd.devices import devices_for
from spmd.pmap_program import PmapProgram, trace_per_device
from spmd.transforms import caches, core, dtypes, lax, lowering
from spmd.transforms.batching import batching_rules, moveaxis, vmap_flat
from spmd.transforms.core import AxisFrame, ClosedJaxpr, Jaxpr, Primitive
from spmd.transforms.jit import jvp_jaxpr
from spmd.transforms.jvp import Zero, instantiate, jvp_rules
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.staging import (closed_as_open, partial_eval_jaxpr, partial_eval_rules,
                                     trace_to_jaxpr)
from spmd.transforms.transpose import backward_pass, is_undefined, transpose_rules

pmap_p = Primitive("pmap", multiple_results=True)


def bind_pmap(args, jaxpr: Jaxpr, in_dims, out_dims, **params):
    return pmap_p.bind(*args, jaxpr=jaxpr, in_dims=tuple(in_dims), out_dims=tuple(out_dims),
                       **params)


def _per_device(aval, dim):
    return aval if dim is None else aval.update(shape=aval.shape[1:])


def _global(aval, dim, size):
    return aval if dim is None else aval.update(shape=(size,) + aval.shape)


def _global_size(axis_size, devices) -> int:
    """The size of the whole mapped axis (over every process of a job)."""
    return len(devices_for(axis_size, devices))


def _stage_per_device(fun, axis_name, axis_size, devices, per_device_avals, out_dims):
    """A per-device program for `fun`, with its consts (broadcast) as leading inputs."""
    closed, _ = trace_per_device(fun, axis_name, _global_size(axis_size, devices),
                                 per_device_avals, lambda: out_dims)
    return closed_as_open(closed)


# ---------------------------------------------------------------- shape rule and eager impl
def _pmap_aval(*avals, jaxpr, axis_name, axis_size, in_dims, out_dims, devices, name):
    return [_global(a, d, axis_size) for a, d in zip(jaxpr.out_avals, out_dims)]


@caches.cached
def _program(jaxpr, axis_name, axis_size, in_dims, out_dims, devices, name, avals):
    return PmapProgram(ClosedJaxpr(jaxpr, []), axis_name, devices_for(axis_size, devices),
                       avals, in_dims, out_dims, [False] * len(avals), name)


def _pmap_impl(*args, jaxpr, axis_name, axis_size, in_dims, out_dims, devices, name):
    avals = tuple(core.get_aval(x) for x in args)
    return _program(jaxpr, axis_name, axis_size, in_dims, out_dims, devices, name, avals)(args)


def _pmap_lowering(ctx, *args, jaxpr, axis_name, axis_size, in_dims, out_dims, devices, name):
    """A pmap left inside a compiled program (an outer pmap, an eager cond branch or loop
    body) computes in that program, on its device: the per-device program vmapped over the
    mapped axis under the same axis name (pmap's semantics are vmap's; collectives over the
    name become their batched forms). An outer pmap keeps one replica per device of its own
    axis."""
    outer = ctx.module.axis_context
    outer_axes = outer.axes if isinstance(outer, ReplicaAxes) else ()
    if not outer_axes and _global_size(axis_size, devices) != axis_size:
        raise NotImplementedError(
            f"pmap ({name}) inside jit, cond, fori_loop or scan in a job of several processes "
            "is not supported: inside a compiled program the pmap computes on the program's one "
            "device, which cannot reach the other processes' devices. Call the pmapped "
            "function outside jit and control flow (jit inside the pmapped function works).")
    closed = _as_vmap(jaxpr, axis_name, axis_size, in_dims, out_dims, tuple(ctx.in_avals),
                      outer_axes)
    consts = [ctx.constant(np.asarray(c), core.get_aval(c).strip_weak())
              for c in closed.consts]
    return lowering.lower_jaxpr(ctx, closed.jaxpr, consts, list(args))


@caches.cached
def _as_vmap(jaxpr, axis_name, axis_size, in_dims, out_dims, in_avals, outer_axes
             ) -> ClosedJaxpr:
    """The whole pmap as one program on the global values: `jaxpr` vmapped over the mapped
    axis (under the axes of an outer pmap, which its collectives may also name); an
    out_axes=None result is the value of the first element."""
    frame = AxisFrame(axis_name, axis_size, "vmap")

    def whole(*xs):
        outs = vmap_flat(lambda *ys: core.eval_jaxpr(jaxpr, [], *ys), frame, xs, in_dims,
                         [0] * len(jaxpr.outvars))
        return [o if d is not None else lax.index_in_dim(o, 0, 0, keepdims=False)
                for o, d in zip(outs, out_dims)]
    with contextlib.ExitStack() as stack:
        for name, size in outer_axes:
            stack.enter_context(core.extend_axis_env(AxisFrame(name, size, "pmap")))
        return trace_to_jaxpr(whole, list(in_avals))


# ---------------------------------------------------------------- jvp
def _pmap_jvp(primals, tangents, *, jaxpr, in_dims, out_dims, **params):
    nonzeros = tuple(type(t) is not Zero for t in tangents)
    new, consts = jvp_jaxpr(jaxpr, nonzeros)
    nz_tangents = [t for t in tangents if type(t) is not Zero]
    inexact = [dtypes.is_inexact(a.dtype) for a in jaxpr.out_avals]
    outs = bind_pmap(
        list(consts) + list(primals) + nz_tangents, new,
        [None] * len(consts) + list(in_dims) + [d for d, nz in zip(in_dims, nonzeros) if nz],
        list(out_dims) + [d for d, i in zip(out_dims, inexact) if i], **params)
    m = len(jaxpr.outvars)
    it = iter(outs[m:])
    avals = _pmap_aval(jaxpr=jaxpr, in_dims=in_dims, out_dims=out_dims, **params)
    return outs[:m], [next(it) if i else Zero(a) for i, a in zip(inexact, avals)]


# ---------------------------------------------------------------- partial evaluation
@caches.cached
def _split(jaxpr, unknowns):
    return partial_eval_jaxpr(jaxpr, unknowns)


def _pmap_partial_eval(trace, args, params):
    jaxpr, in_dims, out_dims = params["jaxpr"], params["in_dims"], params["out_dims"]
    rest = {k: v for k, v in params.items() if k not in ("jaxpr", "in_dims", "out_dims")}
    unknowns = tuple(trace.owns(x) for x in args)
    known, staged, out_unknowns, num_res = _split(jaxpr, unknowns)
    pick = lambda xs, want: [x for x, u in zip(xs, unknowns) if u == want]  # noqa: E731
    known_out_dims = [d for d, u in zip(out_dims, out_unknowns) if not u]
    with core.set_current_trace(trace.parent):  # the known part runs now; residuals stay mapped
        known_outs = bind_pmap(pick(args, False), known, pick(in_dims, False),
                               known_out_dims + [0] * num_res, **rest)
    n_known = len(known_out_dims)
    staged_outs = trace.stage(pmap_p, known_outs[n_known:] + pick(args, True), dict(
        rest, jaxpr=staged, in_dims=tuple([0] * num_res + pick(in_dims, True)),
        out_dims=tuple(d for d, u in zip(out_dims, out_unknowns) if u)))
    known_it, staged_it = iter(known_outs[:n_known]), iter(staged_outs)
    return [next(staged_it) if u else next(known_it) for u in out_unknowns]


# ---------------------------------------------------------------- transpose
def _pmap_transpose(cts, *args, jaxpr, axis_name, axis_size, in_dims, out_dims, **params):
    linear = [is_undefined(a) for a in args]
    if all(type(c) is Zero for c in cts):
        return [None] * len(args)
    residuals = [a for a, lin in zip(args, linear) if not lin]
    res_dims = [d for d, lin in zip(in_dims, linear) if not lin]
    out_avals = _pmap_aval(jaxpr=jaxpr, axis_name=axis_name, axis_size=axis_size,
                           in_dims=in_dims, out_dims=out_dims, **params)
    cts = [instantiate(c, a) for c, a in zip(cts, out_avals)]
    lin_dims = [d for d, lin in zip(in_dims, linear) if lin]
    global_size = _global_size(axis_size, params["devices"])
    body_jaxpr = Jaxpr([v for v, lin in zip(jaxpr.invars, linear) if not lin],
                       [v for v, lin in zip(jaxpr.invars, linear) if lin],
                       jaxpr.outvars, jaxpr.eqns)

    def per_device(*xs):
        res, device_cts = xs[:len(residuals)], xs[len(residuals):]
        device_cts = [c if d is not None else _share(c, global_size)
                      for c, d in zip(device_cts, out_dims)]
        cts_in = backward_pass(body_jaxpr, res, device_cts)
        out = []
        for ct, v, d in zip(cts_in, body_jaxpr.invars, lin_dims):
            ct = instantiate(ct, v.aval)
            out.append(ct if d is not None else psum_p.bind(ct, axes=(axis_name,),
                                                            axis_index_groups=None))
        return out
    avals = [_per_device(core.get_aval(r), d) for r, d in zip(residuals, res_dims)] + [
        _per_device(core.get_aval(c), d) for c, d in zip(cts, out_dims)]
    new, consts = _stage_per_device(per_device, axis_name, axis_size, params["devices"], avals,
                                    lin_dims)
    outs = bind_pmap(list(consts) + residuals + cts, new,
                     [None] * len(consts) + res_dims + list(out_dims), lin_dims,
                     axis_name=axis_name, axis_size=axis_size, **params)
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


def _share(ct, n):
    """Each of the n devices holding one value takes 1/n of its cotangent."""
    aval = core.get_aval(ct)
    return lax.div(ct, lax.full(aval.shape, n, aval.dtype))


# ---------------------------------------------------------------- batching
def _pmap_batch(frame, args, dims, *, jaxpr, axis_name, axis_size, in_dims, out_dims, **params):
    # per device, the batch axis goes in front; globally, right after the mapped axis
    moved = [x if b is None else moveaxis(x, b, 0 if d is None else 1)
             for x, b, d in zip(args, dims, in_dims)]
    batched = [None if b is None else 0 for b in dims]
    avals = [_per_device(core.get_aval(x), d) for x, d in zip(moved, in_dims)]
    inner = AxisFrame(frame.name, frame.size, "vmap")

    def per_device(*xs):
        return vmap_flat(lambda *ys: core.eval_jaxpr(jaxpr, [], *ys), inner, xs, batched,
                         [0] * len(jaxpr.outvars))
    new, consts = _stage_per_device(per_device, axis_name, axis_size, params["devices"], avals,
                                    out_dims)
    outs = bind_pmap(list(consts) + moved, new, [None] * len(consts) + list(in_dims), out_dims,
                     axis_name=axis_name, axis_size=axis_size, **params)
    return outs, [0 if d is None else 1 for d in out_dims]


# ---------------------------------------------------------------- registration
pmap_p.def_abstract_eval(_pmap_aval)
core.impl_rules[pmap_p] = _pmap_impl
lowering_rules[pmap_p] = _pmap_lowering
jvp_rules[pmap_p] = _pmap_jvp
partial_eval_rules[pmap_p] = _pmap_partial_eval
transpose_rules[pmap_p] = _pmap_transpose
batching_rules[pmap_p] = _pmap_batch
