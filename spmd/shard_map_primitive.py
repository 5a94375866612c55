"""The `shard_map` primitive: a per-device program over the manual axes of a mesh, inside the
program that jit compiles for the mesh (transforms/partitioned_jit.py finds its mesh).

It lowers to Shardy's `sdy.manual_computation`, as JAX's does: the operands are laid out by
`in_specs`, the body (the per-device program) sees each device's block, and its results are
put together by `out_specs` (an axis a spec leaves out: one value, the same on every device
of that axis). Collectives in the body lower against `collectives.MeshAxes`: replica groups
of partition ids over the mesh, with channels.

Rules (those of JAX 0.10.2's shard_map with check_vma=False, which compute the same values as
its check_vma=True ones for programs whose out_specs hold):
- eager: the.prim alone jitted over the mesh;
- jvp: shard_map of the body's JVP, tangents laid out as their primals;
- linearize: the known part runs as a shard_map whose residuals come out stacked over every
  manual axis (a leading dimension of 1 per device), read back per device by the staged part;
- transpose: shard_map of the body's transpose; an output an out_spec replicates over axes is
  one value all their devices hold, so each takes its share of the cotangent; an input an
  in_spec replicates was used by all of them, so its cotangent is summed over them (psum);
- vmap: the batch dimension goes in front of every block, unsplit, or split over vmap's
  spmd_axis_name (then each device's body maps over its part of the batch).

Params: `jaxpr` (per device, consts as leading inputs), `mesh`, `in_specs`/`out_specs` (one
PartitionSpec per flat input/output), `manual_axes` (names, in mesh order), `name`.
"""
from __future__ import annotations

import contextlib
import math

from spmd.collectives.axes import MeshAxes
from spmd.collectives.psum import psum_p
from spmd.transforms import caches, core, dtypes, lax
from spmd.transforms.batching import axis_primitives, batching_rules, moveaxis, vmap_flat
from spmd.transforms.core import AxisFrame, Jaxpr, Primitive
from spmd.transforms.jit import jit, jvp_jaxpr
from spmd.transforms.jvp import Zero, instantiate, jvp_rules
from spmd.transforms.lowering import LoweringContext, lower_jaxpr, lowering_rules, tensor_type
from spmd.transforms.named_sharding import NamedSharding, sdy_sharding
from spmd.transforms.partition_spec import PartitionSpec
from spmd.transforms.staging import (closed_as_open, partial_eval_jaxpr, partial_eval_rules,
                                     trace_to_jaxpr)
from spmd.transforms.transpose import backward_pass, is_undefined, transpose_rules

shard_map_p = Primitive("shard_map", multiple_results=True)


def bind_shard_map(args, jaxpr: Jaxpr, in_specs, out_specs, **params):
    return shard_map_p.bind(*args, jaxpr=jaxpr, in_specs=tuple(in_specs),
                            out_specs=tuple(out_specs), **params)


# ---------------------------------------------------------------- blocks and axes
def _parts(mesh, spec: PartitionSpec, dim: int) -> int:
    return math.prod(mesh.shape[a] for a in spec.axis_names_of(dim))


def block_aval(mesh, spec: PartitionSpec, aval):
    """The aval of one device's block of a value of `aval` laid out by `spec`."""
    return aval.update(shape=tuple(n // _parts(mesh, spec, d) for d, n in enumerate(aval.shape)))


def whole_aval(mesh, spec: PartitionSpec, aval):
    """The aval of the value whose blocks (of `aval`) `spec` puts together."""
    return aval.update(shape=tuple(n * _parts(mesh, spec, d) for d, n in enumerate(aval.shape)))


def unmentioned(spec: PartitionSpec, manual_axes) -> tuple:
    """The manual axes `spec` leaves out: the value is the same on all their devices."""
    used = set(spec.used_axis_names())
    return tuple(a for a in manual_axes if a not in used)


@contextlib.contextmanager
def manual_axis_env(mesh, manual_axes):
    """The manual axes bound as named axes, for tracing a body (collectives check them)."""
    with contextlib.ExitStack() as stack:
        for name in manual_axes:
            stack.enter_context(core.extend_axis_env(
                AxisFrame(name, mesh.shape[name], "shard_map")))
        yield


def stage_body(fun, mesh, manual_axes, block_avals) -> tuple[Jaxpr, list]:
    """The per-device program of `fun(*flat blocks) -> flat blocks`, its consts as leading
    inputs (and the const values)."""
    with manual_axis_env(mesh, manual_axes):
        return closed_as_open(trace_to_jaxpr(fun, list(block_avals)))


def _with_consts(consts, jaxpr, in_specs):
    """(args, in_specs) for a body staged with consts: they are the same on every device."""
    return list(consts), [PartitionSpec()] * len(consts) + list(in_specs)


# ---------------------------------------------------------------- shape rule and eager impl
def _shard_map_aval(*avals, jaxpr, mesh, in_specs, out_specs, manual_axes, name):
    return [whole_aval(mesh, s, a) for s, a in zip(out_specs, jaxpr.out_avals)]


@caches.cached
def _jitted(jaxpr, mesh, in_specs, out_specs, manual_axes, name):
    params = dict(jaxpr=jaxpr, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                  manual_axes=manual_axes, name=name)

    def call(*args):
        return shard_map_p.bind(*args, **params)
    call.__name__ = name
    return jit(call, in_shardings=tuple(NamedSharding(mesh, s) for s in in_specs),
               out_shardings=[NamedSharding(mesh, s) for s in out_specs])


def _shard_map_impl(*args, **params):
    return _jitted(**params)(*args)


# ---------------------------------------------------------------- lowering
def _per_value(mesh, specs, avals) -> str:
    # Shardy writes the members of sharding_per_value without their #sdy.sharding prefix
    items = [sdy_sharding(NamedSharding(mesh, s), a.ndim)[len("#sdy.sharding"):]
             for s, a in zip(specs, avals)]
    return f"#sdy.sharding_per_value<[{', '.join(items)}]>"


def _shard_map_lowering(ctx, *args, jaxpr, mesh, in_specs, out_specs, manual_axes, name):
    module = ctx.module
    if module.mesh != mesh:
        raise NotImplementedError(
            f"shard_map over {mesh} inside a pmap, or inside a program over another mesh, is "
            "not supported; call it from jit (over its mesh) or at the top level")
    block_args = [f"%r{next(module.counter)}" for _ in jaxpr.invars]
    header = ", ".join(f"{a}: {tensor_type(av)}" for a, av in zip(block_args, jaxpr.in_avals))
    inner: list[str] = []
    body = LoweringContext(module, inner, ctx.indent + "    ", nested=True)
    outer_axes, module.axis_context = module.axis_context, MeshAxes(mesh)
    try:
        results = lower_jaxpr(body, jaxpr, [], block_args)
    finally:
        module.axis_context = outer_axes
    types = ", ".join(tensor_type(a) for a in jaxpr.out_avals)
    inner.append(f'{ctx.indent}    "sdy.return"({", ".join(results)}) : ({types}) -> ()')
    region = ("{\n" + f"{ctx.indent}  ^bb0({header}):\n" + "\n".join(inner)
              + f"\n{ctx.indent}}}")
    manual = ", ".join(f'"{a}"' for a in manual_axes)
    attrs = (f"in_shardings = {_per_value(mesh, in_specs, ctx.in_avals)}, "
             f"out_shardings = {_per_value(mesh, out_specs, ctx.out_avals)}, "
             f"manual_axes = #sdy<manual_axes{{{manual}}}>")
    out = ctx.op("sdy.manual_computation", list(args), regions=[region], attrs=attrs)
    if len(ctx.out_avals) == 1:
        return [out]
    return out if ctx.out_avals else []


# ---------------------------------------------------------------- jvp
def _shard_map_jvp(primals, tangents, *, jaxpr, mesh, in_specs, out_specs, manual_axes,
                   name):
    nonzeros = tuple(type(t) is not Zero for t in tangents)
    with manual_axis_env(mesh, manual_axes):
        new, consts = jvp_jaxpr(jaxpr, nonzeros)
    args, specs = _with_consts(consts, new, in_specs)
    specs += [s for s, nz in zip(in_specs, nonzeros) if nz]
    inexact = [dtypes.is_inexact(a.dtype) for a in jaxpr.out_avals]
    outs = bind_shard_map(
        args + list(primals) + [t for t in tangents if type(t) is not Zero], new, specs,
        list(out_specs) + [s for s, i in zip(out_specs, inexact) if i], mesh=mesh,
        manual_axes=manual_axes, name=f"jvp_{name}")
    m = len(jaxpr.outvars)
    it = iter(outs[m:])
    avals = [whole_aval(mesh, s, a) for s, a in zip(out_specs, jaxpr.out_avals)]
    return outs[:m], [next(it) if i else Zero(a) for i, a in zip(inexact, avals)]


# ---------------------------------------------------------------- partial evaluation
@caches.cached
def _split(jaxpr, unknowns):
    return partial_eval_jaxpr(jaxpr, unknowns)


def _stacked(mesh, manual_axes) -> PartitionSpec:
    """The spec of a residual: each device's value along a leading dimension of its own."""
    return PartitionSpec(tuple(manual_axes))


def _shard_map_partial_eval(trace, args, params):
    jaxpr, in_specs, out_specs = params["jaxpr"], params["in_specs"], params["out_specs"]
    mesh, manual_axes = params["mesh"], params["manual_axes"]
    unknowns = tuple(trace.owns(x) for x in args)
    known, staged, out_unknowns, num_res = _split(jaxpr, unknowns)
    pick = lambda xs, want: [x for x, u in zip(xs, unknowns) if u == want]  # noqa: E731
    res_avals = known.out_avals[len(known.outvars) - num_res:]
    n_known = len(known.outvars) - num_res

    def known_body(*xs):  # residuals leave with a leading dimension of 1 per device
        outs = core.eval_jaxpr(known, [], *xs)
        return outs[:n_known] + [lax.expand_dims(r, (0,)) for r in outs[n_known:]]
    body, consts = stage_body(known_body, mesh, manual_axes, known.in_avals)
    stacked = _stacked(mesh, manual_axes)
    known_specs = [s for s, u in zip(out_specs, out_unknowns) if not u]
    cargs, cspecs = _with_consts(consts, body, pick(in_specs, False))
    with core.set_current_trace(trace.parent):  # the known part runs now
        known_outs = bind_shard_map(cargs + pick(args, False), body, cspecs,
                                    known_specs + [stacked] * num_res, mesh=mesh,
                                    manual_axes=manual_axes, name=params["name"])

    def staged_body(*xs):
        res = [lax.squeeze(r, (0,)) for r in xs[:num_res]]
        return core.eval_jaxpr(staged, [], *res, *xs[num_res:])
    block_res = [r.update(shape=(1,) + r.shape) for r in res_avals]
    body2, consts2 = stage_body(staged_body, mesh, manual_axes,
                                block_res + staged.in_avals[num_res:])
    sargs, sspecs = _with_consts(consts2, body2, [stacked] * num_res + pick(in_specs, True))
    staged_outs = trace.stage(shard_map_p, sargs + known_outs[n_known:] + pick(args, True), dict(
        params, jaxpr=body2, in_specs=tuple(sspecs),
        out_specs=tuple(s for s, u in zip(out_specs, out_unknowns) if u)))
    known_it, staged_it = iter(known_outs[:n_known]), iter(staged_outs)
    return [next(staged_it) if u else next(known_it) for u in out_unknowns]


# ---------------------------------------------------------------- transpose
def _share(ct, n: int):
    if n == 1:
        return ct
    aval = core.get_aval(ct)
    return lax.div(ct, lax.full(aval.shape, n, aval.dtype))


def _shard_map_transpose(cts, *args, jaxpr, mesh, in_specs, out_specs, manual_axes, name):
    linear = [is_undefined(a) for a in args]
    if all(type(c) is Zero for c in cts):
        return [None] * len(args)
    residuals = [a for a, lin in zip(args, linear) if not lin]
    res_specs = [s for s, lin in zip(in_specs, linear) if not lin]
    lin_specs = [s for s, lin in zip(in_specs, linear) if lin]
    out_avals = [whole_aval(mesh, s, a) for s, a in zip(out_specs, jaxpr.out_avals)]
    cts = [instantiate(c, a) for c, a in zip(cts, out_avals)]
    body_jaxpr = Jaxpr([v for v, lin in zip(jaxpr.invars, linear) if not lin],
                       [v for v, lin in zip(jaxpr.invars, linear) if lin],
                       jaxpr.outvars, jaxpr.eqns)

    def per_device(*xs):
        res, device_cts = xs[:len(residuals)], xs[len(residuals):]
        device_cts = [_share(c, math.prod(mesh.shape[a] for a in unmentioned(s, manual_axes)))
                      for c, s in zip(device_cts, out_specs)]
        out = []
        for ct, v, s in zip(backward_pass(body_jaxpr, res, device_cts), body_jaxpr.invars,
                            lin_specs):
            ct, over = instantiate(ct, v.aval), unmentioned(s, manual_axes)
            out.append(psum_p.bind(ct, axes=over, axis_index_groups=None) if over else ct)
        return out
    avals = [block_aval(mesh, s, core.get_aval(r)) for r, s in zip(residuals, res_specs)] + [
        block_aval(mesh, s, core.get_aval(c)) for c, s in zip(cts, out_specs)]
    new, consts = stage_body(per_device, mesh, manual_axes, avals)
    cargs, cspecs = _with_consts(consts, new, res_specs + list(out_specs))
    outs = bind_shard_map(cargs + residuals + cts, new, cspecs, lin_specs, mesh=mesh,
                          manual_axes=manual_axes, name=f"transpose_{name}")
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


# ---------------------------------------------------------------- batching
def _batch_front(spec: PartitionSpec, entry) -> PartitionSpec:
    return PartitionSpec(entry, *spec)


def _spmd_split(frame, mesh, manual_axes, in_specs, out_specs) -> int:
    """How many parts vmap's spmd_axis_name splits the batch into, checked against the mesh."""
    names = frame.spmd_axis_name
    if names is None:
        return 1
    for name in names:
        if name not in manual_axes:
            raise ValueError(f"vmap's spmd_axis_name {name!r} is not a manual axis of the "
                             f"shard_map inside it (its mesh axes: {tuple(mesh.shape)}, manual: "
                             f"{tuple(manual_axes)}); name one of the manual axes")
        for spec in (*in_specs, *out_specs):
            if name in spec.used_axis_names():
                raise ValueError(f"vmap's spmd_axis_name {name!r} cannot appear in the specs of "
                                 f"a shard_map inside it, but {spec} names it; the vmapped "
                                 "dimension is split over it, so leave it out of the specs")
    parts = math.prod(mesh.shape[n] for n in names)
    if frame.size % parts:
        raise ValueError(f"vmap's mapped size {frame.size} is not divisible by the {parts} "
                         f"devices of its spmd_axis_name {names}: make it a multiple")
    return parts


def _shard_map_batch(frame, args, dims, *, jaxpr, mesh, in_specs, out_specs, manual_axes,
                     name):
    if frame.name in mesh.shape:
        raise NotImplementedError(f"vmap with axis_name {frame.name!r}, a name of the mesh of "
                                  "a shard_map inside it, is not supported; choose another name")
    parts = _spmd_split(frame, mesh, manual_axes, in_specs, out_specs)
    if parts > 1 and frame.name is not None and _names_axis(jaxpr, frame.name):
        raise NotImplementedError(f"a collective over vmap's axis {frame.name!r} inside a "
                                  "shard_map is not supported with spmd_axis_name: the batch is "
                                  "split over devices; leave out spmd_axis_name or the collective")
    entry = frame.spmd_entry()
    moved = [x if b is None else moveaxis(x, b, 0) for x, b in zip(args, dims)]
    specs = [s if b is None else _batch_front(s, entry) for s, b in zip(in_specs, dims)]
    batched = [None if b is None else 0 for b in dims]
    avals = [block_aval(mesh, s, core.get_aval(x)) for x, s in zip(moved, specs)]
    inner = AxisFrame(frame.name, frame.size // parts, "vmap")

    def per_device(*xs):
        return vmap_flat(lambda *ys: core.eval_jaxpr(jaxpr, [], *ys), inner, xs, batched,
                         [0] * len(jaxpr.outvars))
    new, consts = stage_body(per_device, mesh, manual_axes, avals)
    cargs, cspecs = _with_consts(consts, new, specs)
    outs = bind_shard_map(cargs + moved, new, cspecs, [_batch_front(s, entry) for s in out_specs],
                          mesh=mesh, manual_axes=manual_axes, name=name)
    return outs, [0] * len(outs)


def _names_axis(jaxpr: Jaxpr, name) -> bool:
    """Whether a collective of `jaxpr`'s top level names axis `name`."""
    return any(name in axis_primitives[e.prim](e.params)
               for e in jaxpr.eqns if e.prim in axis_primitives)


# ---------------------------------------------------------------- registration
shard_map_p.def_abstract_eval(_shard_map_aval)
core.impl_rules[shard_map_p] = _shard_map_impl
lowering_rules[shard_map_p] = _shard_map_lowering
jvp_rules[shard_map_p] = _shard_map_jvp
partial_eval_rules[shard_map_p] = _shard_map_partial_eval
transpose_rules[shard_map_p] = _shard_map_transpose
batching_rules[shard_map_p] = _shard_map_batch
