"""Transforms of whole sub-programs, what the rules of cond, while and scan are made of: the JVP
of a program, its batched form, its known/unknown split, its transpose, and reordering its
inputs and outputs. Each returns a new interned program (consts first, as in common.py) and is
cached, so a rule applied twice to one program builds one program.
"""
from __future__ import annotations

from typing import Sequence

from spmd.transforms import caches, core, dtypes
from spmd.transforms.batching import vmap_flat
from spmd.transforms.core import AxisFrame, Jaxpr, ShapedArray, Var
from spmd.transforms.jvp import Zero, instantiate, jvp_flat
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.control_flow.common import intern, trace_program
from spmd.transforms.staging import partial_eval_jaxpr
from spmd.transforms.transpose import backward_pass


def is_differentiable(aval: ShapedArray) -> bool:
    return dtypes.is_inexact(aval.dtype)


def as_tangent(t, aval: ShapedArray):
    """A tangent or cotangent as a concrete array of the strong type of `aval`: loop carries
    of tangents must keep one type across iterations."""
    t = instantiate(t, aval)
    t_aval = core.get_aval(t)
    if t_aval.weak_type or t_aval.dtype != aval.dtype:
        t = ew.convert_element_type(t, aval.dtype, False)
    return t


def zeros(aval: ShapedArray):
    return instantiate(Zero(aval), aval)


# ---------------------------------------------------------------- reordering
def regroup(jaxpr: Jaxpr, in_order: Sequence[int], out_order: Sequence[int]) -> Jaxpr:
    """The same program with its inputs and outputs permuted (`order[i]` is the old index)."""
    return intern(Jaxpr([], [jaxpr.invars[i] for i in in_order],
                        [jaxpr.outvars[i] for i in out_order], jaxpr.eqns))


def with_unused_inputs(jaxpr: Jaxpr, avals: Sequence[ShapedArray], at: int) -> Jaxpr:
    """The program taking extra inputs of `avals` at position `at`, which it ignores."""
    extra = [Var(a) for a in avals]
    invars = jaxpr.invars[:at] + extra + jaxpr.invars[at:]
    return intern(Jaxpr([], invars, jaxpr.outvars, jaxpr.eqns))


def first_outputs(jaxpr: Jaxpr, n: int) -> Jaxpr:
    """The program returning only its first `n` outputs (XLA drops the dead computation)."""
    return intern(Jaxpr([], jaxpr.invars, jaxpr.outvars[:n], jaxpr.eqns))


# ---------------------------------------------------------------- JVP
@caches.cached
def jvp_program(jaxpr: Jaxpr, nonzeros: tuple, instantiate_outs: tuple):
    """The JVP of a program: it takes (consts, primals, the tangents flagged in `nonzeros`) and
    returns (primal outputs, the non-zero output tangents). An output tangent is non-zero when
    the inputs make it so or `instantiate_outs` asks for it (inexact outputs only).
    Returns (program, consts, out_nonzeros)."""
    n = len(jaxpr.invars)
    box = []

    def fun(*args):
        it = iter(args[n:])
        tangents = [next(it) if nz else Zero(v.aval) for v, nz in zip(jaxpr.invars, nonzeros)]
        outs, touts = jvp_flat(lambda *xs: core.eval_jaxpr(jaxpr, [], *xs), args[:n], tangents)
        out_avals = [core.get_aval(o) for o in outs]
        out_nz = [is_differentiable(a) and (type(t) is not Zero or bool(inst))
                  for a, t, inst in zip(out_avals, touts, instantiate_outs)]
        box.append(out_nz)
        return list(outs) + [as_tangent(t, a.strip_weak())
                             for t, a, nz in zip(touts, out_avals, out_nz) if nz]
    in_avals = jaxpr.in_avals + [v.aval.strip_weak() for v, nz in zip(jaxpr.invars, nonzeros) if nz]
    program, consts = trace_program(fun, in_avals)
    return program, tuple(consts), tuple(box[0])


# ---------------------------------------------------------------- batching
@caches.cached
def batch_program(jaxpr: Jaxpr, axis_name, axis_size: int, axis_kind: str, in_batched: tuple,
                  instantiate_outs: tuple):
    """The program over a batch: the inputs flagged in `in_batched` and the batched outputs
    carry the batch along their first axis. An output is batched when the inputs make it so
    or `instantiate_outs` asks for it. Returns (program, consts, out_batched)."""
    box = []

    def fun(*args):
        def body(*xs):
            outs = core.eval_jaxpr(jaxpr, [], *xs)
            trace = core.current_trace()
            box.append([bool(inst) or trace.lift(o)[1] is not None
                        for o, inst in zip(outs, instantiate_outs)])
            return outs
        frame = AxisFrame(axis_name, axis_size, axis_kind)
        return vmap_flat(body, frame, args, [0 if b else None for b in in_batched],
                         lambda: [0 if b else None for b in box[0]])
    in_avals = [v.aval.update(shape=(axis_size,) + v.aval.shape) if b else v.aval
                for v, b in zip(jaxpr.invars, in_batched)]
    program, consts = trace_program(fun, in_avals)
    return program, tuple(consts), tuple(box[0])


def batch_fixed_point(jaxpr: Jaxpr, axis, before: Sequence[bool], carry: Sequence[bool],
                      after: Sequence[bool]) -> list[bool]:
    """Which loop carries are batched: batched on entry, or made so by the body (fixed point).
    The body takes (before, carry, after) and returns the carry first."""
    carry = list(carry)
    n_out = len(jaxpr.outvars)
    while True:
        flags = tuple(before) + tuple(carry) + tuple(after)
        inst = tuple(carry) + (False,) * (n_out - len(carry))
        _, _, out = batch_program(jaxpr, axis.name, axis.size, axis.kind, flags, inst)
        new = [a or b for a, b in zip(carry, out[:len(carry)])]
        if new == carry:
            return carry
        carry = new


# ---------------------------------------------------------------- known/unknown split
@caches.cached
def partial_eval_program(jaxpr: Jaxpr, unknowns: tuple, instantiate_outs: tuple):
    """staging.partial_eval_jaxpr with interned results: (known, staged, out_unknowns, num_res)."""
    known, staged, out_uk, num_res = partial_eval_jaxpr(jaxpr, unknowns, instantiate_outs)
    return intern(known), intern(staged), tuple(out_uk), num_res


def unknown_fixed_point(jaxpr: Jaxpr, before: Sequence[bool], carry_uk: Sequence[bool],
                        after: Sequence[bool]) -> list[bool]:
    """Which loop carries are unknown: unknown on entry, or made so by the body (fixed point).
    The body takes (before, carry, after) and returns the carry first."""
    carry = list(carry_uk)
    n_out = len(jaxpr.outvars)
    while True:
        inst = tuple(carry) + (False,) * (n_out - len(carry))
        _, _, out_uk, _ = partial_eval_program(jaxpr, tuple(before) + tuple(carry) + tuple(after),
                                               inst)
        new = [a or b for a, b in zip(carry, out_uk[:len(carry)])]
        if new == carry:
            return carry
        carry = new


# ---------------------------------------------------------------- transpose
@caches.cached
def transpose_program(jaxpr: Jaxpr, linear: tuple):
    """The transpose of a program linear in the inputs flagged `linear`: it takes (consts, the
    non-linear inputs, a cotangent per output) and returns a cotangent per linear input
    (zeros where none flows). Returns (program, consts)."""
    lin_vars = [v for v, lin in zip(jaxpr.invars, linear) if lin]
    nonlin_vars = [v for v, lin in zip(jaxpr.invars, linear) if not lin]
    as_linear = Jaxpr(nonlin_vars, lin_vars, jaxpr.outvars, jaxpr.eqns)
    k = len(nonlin_vars)

    def fun(*args):
        cts = backward_pass(as_linear, args[:k], args[k:])
        return [as_tangent(ct, v.aval.strip_weak()) for ct, v in zip(cts, lin_vars)]
    in_avals = [v.aval for v in nonlin_vars] + [a.strip_weak() for a in jaxpr.out_avals]
    program, consts = trace_program(fun, in_avals)
    return program, tuple(consts)


def grouped_order(primal_sizes: Sequence[int], tangent_sizes: Sequence[int], lead: int = 0
                  ) -> list[int]:
    """The order that turns a JVP program's (lead, p_1 .. p_k, t_1 .. t_k), where p_i and t_i
    are the primals and tangents of group i, into (lead, p_1, t_1, ..., p_k, t_k): loops keep
    their consts, carry and scanned inputs in groups."""
    p_start = lead
    t_start = lead + sum(primal_sizes)
    order = list(range(lead))
    for np_, nt in zip(primal_sizes, tangent_sizes):
        order += list(range(p_start, p_start + np_)) + list(range(t_start, t_start + nt))
        p_start += np_
        t_start += nt
    return order
