"""Batching (vmap): push a mapped axis down into every primitive.

A `BatchTracer` is a value with one extra axis (`bdim`, or None when it does not vary along the
mapped axis). Each primitive's batching rule `rule(axis, args, dims, **params) -> (out, out_dims)`
computes the whole batch at once; `axis` is the `AxisFrame` (name and size) of this vmap, which
collectives over the vmapped name use.
"""
from __future__ import annotations

from typing import Callable, Sequence

from spmd.transforms import core, tracer_leaks
from spmd.transforms.config import config
from spmd.transforms.core import AxisFrame, Trace, Tracer, set_current_trace
from spmd.transforms.trace_primitives import broadcast_in_dim_p, transpose_p

batching_rules: dict[core.Primitive, Callable] = {}
# Primitives that must see this trace even when no argument is batched (collectives over its name).
axis_primitives: dict[core.Primitive, Callable[[dict], Sequence]] = {}

not_mapped = None


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self):
        aval = core.get_aval(self.val)
        if self.bdim is None:
            return aval
        shape = aval.shape[:self.bdim] + aval.shape[self.bdim + 1:]
        return aval.update(shape=shape)

    def to_concrete(self, operation):
        return core.Tracer.to_concrete(self, operation)


class BatchTrace(Trace):
    def __init__(self, parent: Trace, axis: AxisFrame):
        self.parent, self.axis = parent, axis

    def lift(self, x):
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.bdim
        return x, None

    def process_primitive(self, prim, args, params):
        vals, dims = zip(*map(self.lift, args)) if args else ((), ())
        names_me = prim in axis_primitives and self.axis.name in axis_primitives[prim](params)
        if all(d is None for d in dims) and not names_me:
            with set_current_trace(self.parent):
                return prim.bind(*vals, **params)
        rule = core.rule_for(batching_rules, prim, "batching (vmap)")
        with set_current_trace(self.parent):
            out, out_dims = rule(self.axis, list(vals), list(dims), **params)
        if prim.multiple_results:
            return [self.pack(o, d) for o, d in zip(out, out_dims)]
        return self.pack(out, out_dims)

    def pack(self, val, bdim):
        return val if bdim is None else BatchTracer(self, val, bdim)


def vmap_flat(fun: Callable, axis: AxisFrame, args: Sequence, in_dims: Sequence,
              out_dims: Sequence | Callable[[], Sequence]):
    """Run `fun(*args) -> list` with args mapped along in_dims; outputs mapped along out_dims
    (None: the output must not vary along the axis), or along `out_dims()` once `fun` has run."""
    lifted = _run_batched(fun, axis, args, in_dims)
    if callable(out_dims):
        out_dims = out_dims()
    results = []
    for i, ((val, bdim), want) in enumerate(zip(lifted, out_dims)):
        if want is None:
            if bdim is not None:
                raise ValueError(f"vmap has out_axes=None for output {i}, but that output varies "
                                 f"along the mapped axis; give it an integer out_axes or make it "
                                 f"independent of the mapped inputs")
            results.append(val)
        else:
            results.append(move_or_broadcast(val, bdim, want, axis.size))
    return results


def vmap_unrestricted(fun: Callable, axis: AxisFrame, args: Sequence, in_dims: Sequence):
    """Run `fun(*args) -> list` with args mapped along in_dims; returns (outputs, their mapped
    axes), None for an output that does not vary along the axis (nothing is broadcast)."""
    lifted = _run_batched(fun, axis, args, in_dims)
    return [v for v, _ in lifted], [d for _, d in lifted]


def _run_batched(fun, axis, args, in_dims) -> list[tuple]:
    """(value, mapped axis or None) per output of `fun` run on a new BatchTrace."""
    trace = BatchTrace(core.current_trace(), axis)
    axis.trace = trace
    ins = [BatchTracer(trace, a, d) if d is not None else a for a, d in zip(args, in_dims)]
    with set_current_trace(trace), core.extend_axis_env(axis):
        outs = fun(*ins)
    lifted = [trace.lift(o) for o in outs]
    if config.check_tracer_leaks:
        del ins, outs  # (this frame's own references are no leak)
        tracer_leaks.check(trace)
    return lifted


# ---------------------------------------------------------------- helpers for rules
def moveaxis(x, src: int, dst: int):
    nd = core.get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose_p.bind(x, permutation=tuple(perm))  # lax.transpose, one layer up


def broadcast_batch(x, size: int, dim: int):
    """A new mapped axis of `size` at `dim` for a value that does not vary along it."""
    aval = core.get_aval(x)
    shape = list(aval.shape)
    shape.insert(dim, size)
    kept = [i for i in range(len(shape)) if i != dim]
    # lax.broadcast_in_dim (one layer up); the shapes differ, so it would bind as well
    return broadcast_in_dim_p.bind(x, shape=tuple(int(d) for d in shape),
                                   broadcast_dimensions=tuple(kept))


def move_or_broadcast(x, bdim, dst: int, size: int):
    if bdim is None:
        return broadcast_batch(x, size, dst if dst >= 0 else dst + core.get_aval(x).ndim + 1)
    return moveaxis(x, bdim, dst)


def bdim_at_front(x, bdim, size: int):
    return move_or_broadcast(x, bdim, 0, size)


def defvectorized(prim: core.Primitive):
    """Elementwise with one operand: the batch axis passes through untouched."""
    def rule(axis, args, dims, **params):
        return prim.bind(*args, **params), dims[0]
    batching_rules[prim] = rule


def defbroadcasting(prim: core.Primitive):
    """Elementwise with several operands of one shape: bring every batch axis to the front,
    broadcasting unbatched operands, then apply the primitive."""
    def rule(axis, args, dims, **params):
        if all(d == dims[0] for d in dims):
            return prim.bind(*args, **params), dims[0]
        moved = [bdim_at_front(a, d, axis.size) for a, d in zip(args, dims)]
        return prim.bind(*moved, **params), 0
    batching_rules[prim] = rule
