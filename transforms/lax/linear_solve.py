"""jax.lax.custom_linear_solve as JAX 0.10.2 has it: one primitive, `linear_solve_p` (named
`custom_linear_solve`), that holds four programs (matvec, its transpose vecmat, solve and
transpose_solve), each taking its own consts first and then the leaves of b. Evaluated or
lowered it is just `solve`. Its derivatives come from A x = b rather than from the solver:
dx = solve(db - dA x), and the transpose of x = A^-1 b in b is the same primitive with
matvec/vecmat and solve/transpose_solve swapped. The solvers themselves are never
differentiated (what they close over gets no derivative), as in JAX."""
from __future__ import annotations

from typing import Callable, NamedTuple

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Jaxpr, Primitive
from spmd.transforms.jvp import Zero, instantiate, jvp_flat, jvp_rules, linear_primitives
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.control_flow.common import avals_of, trace_fun, typematch
from spmd.transforms.lax.control_flow.subprograms import batch_program, transpose_program
from spmd.transforms.lowering import lower_jaxpr, lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


class LinearSolveTuple(NamedTuple):
    """One entry per program of the solve (a const count, a program or its operands)."""
    matvec: object
    vecmat: object
    solve: object
    transpose_solve: object

    def transpose(self) -> "LinearSolveTuple":
        return LinearSolveTuple(self.vecmat, self.matvec, self.transpose_solve, self.solve)


linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)


def _split(args, const_lengths: LinearSolveTuple):
    """(the consts of each program, the leaves of b)."""
    groups, start = [], 0
    for n in const_lengths:
        groups.append(list(args[start:start + n]))
        start += n
    return LinearSolveTuple(*groups), list(args[start:])


def _flatten(groups) -> list:
    return [x for g in groups for x in g]


def _abstract_eval(*avals, const_lengths, jaxprs):
    _, b = _split(avals, const_lengths)
    solve = jaxprs.solve
    if not all(map(typematch, solve.in_avals[const_lengths.solve:], b)):
        raise TypeError(f"custom_linear_solve: solve takes "
                        f"{[a.str_short() for a in solve.in_avals[const_lengths.solve:]]} but b "
                        f"is {[a.str_short() for a in b]}")
    # solve's results are x (typed like b) followed by its auxiliary values
    return list(b) + solve.out_avals[len(b):]


linear_solve_p.def_abstract_eval(_abstract_eval)


def _lowering(ctx, *args, const_lengths, jaxprs):
    params, b = _split(args, const_lengths)
    return lower_jaxpr(ctx, jaxprs.solve, [], params.solve + b)


lowering_rules[linear_solve_p] = _lowering


# ---------------------------------------------------------------- JVP
def _matvec_tangent(matvec: Jaxpr, consts, consts_dot, x):
    """dA x: the tangent of matvec(x) through its consts only (x held fixed)."""
    _, out = jvp_flat(lambda *cs: core.eval_jaxpr(matvec, [], *cs, *x), consts, consts_dot)
    return out


def _jvp(primals, tangents, *, const_lengths, jaxprs):
    # A x = b, so dA x + A dx = db and dx = A^-1 (db - dA x)
    params = dict(const_lengths=const_lengths, jaxprs=jaxprs)
    outs = linear_solve_p.bind(*primals, **params)
    consts, b = _split(primals, const_lengths)
    consts_dot, b_dot = _split(tangents, const_lengths)
    x = outs[:len(b)]
    through_a = any(type(t) is not Zero for t in consts_dot.matvec)
    if not through_a and all(type(t) is Zero for t in b_dot):
        return outs, [Zero(core.get_aval(o)) for o in outs]
    rhs = [instantiate(t, core.get_aval(v).strip_weak()) for t, v in zip(b_dot, x)]
    if through_a:
        d_a = _matvec_tangent(jaxprs.matvec, consts.matvec, consts_dot.matvec, x)
        rhs = [ew.sub(r, instantiate(t, core.get_aval(r))) for r, t in zip(rhs, d_a)]
    x_dot = linear_solve_p.bind(*_flatten(consts), *rhs, **params)
    # the auxiliary values carry no derivative, as in JAX
    return outs, x_dot[:len(b)] + [Zero(core.get_aval(o)) for o in outs[len(b):]]


jvp_rules[linear_solve_p] = _jvp
linear_primitives.add(linear_solve_p)  # linear in b


# ---------------------------------------------------------------- transpose
def _transpose(cts, *args, const_lengths, jaxprs):
    if jaxprs.transpose_solve is None:
        raise TypeError("custom_linear_solve: transpose_solve is required for backwards mode "
                        "automatic differentiation (grad, vjp) unless symmetric=True")
    consts, b = _split(args, const_lengths)
    if any(is_undefined(c) for c in _flatten(consts)):
        raise NotImplementedError("custom_linear_solve is linear in b only: its matvec and "
                                  "solvers' closed-over values cannot be linear inputs")
    if any(type(ct) is not Zero for ct in cts[len(b):]):
        raise NotImplementedError("custom_linear_solve: cotangents of solve's auxiliary outputs "
                                  "are not supported (JAX has none either)")
    ct_x = [instantiate(ct, a.strip_weak()) for ct, a in zip(cts[:len(b)], jaxprs.solve.out_avals)]
    ct_b = linear_solve_p.bind(*_flatten(consts.transpose()), *ct_x,
                               const_lengths=const_lengths.transpose(),
                               jaxprs=jaxprs.transpose())
    return [None] * sum(const_lengths) + list(ct_b[:len(b)])


transpose_rules[linear_solve_p] = _transpose


# ---------------------------------------------------------------- batching
def _batch(axis, args, dims, *, const_lengths, jaxprs):
    """x and b share one set of batched flags, so that the four programs (x = solve(b),
    b = matvec(x) and their transposes, which swap roles when the primitive is transposed) all
    agree: the flags of b, grown until no program batches a leaf the flags leave unbatched
    (a fixed point). Auxiliary outputs are always batched. Each program is then batched with
    those flags, its new consts placed before its old ones."""
    consts, b = _split(args, const_lengths)
    const_dims, b_dims = _split(dims, const_lengths)
    n_b = len(b)

    def batched(which, flags):
        n_out = len(getattr(jaxprs, which).outvars)
        in_flags = tuple(d is not None for d in getattr(const_dims, which)) + tuple(flags)
        return batch_program(getattr(jaxprs, which), axis.name, axis.size, axis.kind, in_flags,
                             tuple(flags) + (True,) * (n_out - n_b))

    present = [w for w in LinearSolveTuple._fields if getattr(jaxprs, w) is not None]
    flags = [d is not None for d in b_dims]
    while True:
        grown = list(flags)
        for which in present:
            grown = [g or o for g, o in zip(grown, batched(which, flags)[2][:n_b])]
        if grown == flags:
            break
        flags = grown

    new_consts, new_lengths, new_jaxprs = [], [], []
    for which in LinearSolveTuple._fields:
        own = [bdim_at_front(c, d, axis.size) if d is not None else c
               for c, d in zip(getattr(consts, which), getattr(const_dims, which))]
        program, program_consts = None, []
        if which in present:
            program, program_consts, _ = batched(which, flags)
        new_consts += list(program_consts) + own
        new_lengths.append(len(program_consts) + len(own))
        new_jaxprs.append(program)
    new_b = [bdim_at_front(v, d, axis.size) if flag else v
             for v, d, flag in zip(b, b_dims, flags)]
    outs = linear_solve_p.bind(*new_consts, *new_b, const_lengths=LinearSolveTuple(*new_lengths),
                               jaxprs=LinearSolveTuple(*new_jaxprs))
    return outs, [0 if flag else None for flag in flags] + [0] * (len(outs) - n_b)


batching_rules[linear_solve_p] = _batch


# ---------------------------------------------------------------- the user's function
def _checked(fun: Callable, name: str, b_tree, b_avals, has_aux: bool) -> Callable:
    """`fun`, raising JAX's errors when its output is not shaped like b."""
    def checked(*args):
        out = fun(*args)
        x = out[0] if has_aux else out
        leaves, tree = tree_util.tree_flatten(x)
        if tree != b_tree:
            raise TypeError(f"{name}() output pytree structure must match b, got {tree} and "
                            f"{b_tree}")
        shapes = [tuple(core.get_aval(v).shape) for v in leaves]
        wanted = [a.shape for a in b_avals]
        if shapes != wanted:
            raise ValueError(f"{name}() output shapes must match b, got {shapes} and {wanted}")
        return out
    return checked


def _as_tree_function(jaxpr: Jaxpr, consts, tree) -> Callable:
    """The linear map of a staged program, over pytrees shaped like b."""
    def fun(x):
        return tree_util.tree_unflatten(tree, core.eval_jaxpr(jaxpr, [], *consts,
                                                              *tree_util.tree_leaves(x)))
    return fun


def custom_linear_solve(matvec: Callable, b, solve: Callable,
                        transpose_solve: Callable | None = None, symmetric: bool = False,
                        has_aux: bool = False):
    """jax.lax.custom_linear_solve: x = solve(matvec, b) for the linear map `matvec`, with
    derivatives from matvec(x) = b rather than through `solve`. `transpose_solve(vecmat, b)`
    solves the transposed system (vecmat is matvec's transpose, found by autodiff) and is
    needed for reverse mode unless `symmetric`, when `solve` serves. With `has_aux`, the
    solvers return (x, aux) and so does this function; aux carries no derivative."""
    if transpose_solve is None and symmetric:
        transpose_solve = solve
    b_leaves, b_tree = tree_util.tree_flatten(b)
    b_avals = avals_of(b_leaves)
    args_tree = tree_util.tree_structure((b,))
    for a in b_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(f"custom_linear_solve: b must hold float or complex arrays, got "
                            f"{a.str_short()}")

    matvec_jaxpr, matvec_consts, _ = trace_fun(_checked(matvec, "matvec", b_tree, b_avals, False),
                                               args_tree, b_avals)
    solve_jaxpr, solve_consts, out_tree = trace_fun(
        _checked(lambda r: solve(matvec, r), "solve", b_tree, b_avals, has_aux),
        args_tree, b_avals)
    vecmat_jaxpr = tr_jaxpr = None
    vecmat_consts, tr_consts = [], []
    if transpose_solve is not None:
        if symmetric:
            vecmat_jaxpr, vecmat_consts = matvec_jaxpr, matvec_consts
        else:
            vecmat_jaxpr, vecmat_consts = _vecmat(matvec_jaxpr, len(matvec_consts), b_avals)
            vecmat_consts = list(vecmat_consts) + list(matvec_consts)
        vecmat = _as_tree_function(vecmat_jaxpr, vecmat_consts, b_tree)
        tr_jaxpr, tr_consts, _ = trace_fun(
            _checked(lambda r: transpose_solve(vecmat, r), "transpose_solve", b_tree, b_avals,
                     has_aux), args_tree, b_avals)
    groups = LinearSolveTuple(matvec_consts, vecmat_consts, solve_consts, tr_consts)
    outs = linear_solve_p.bind(
        *_flatten(groups), *b_leaves,
        const_lengths=LinearSolveTuple(*[len(g) for g in groups]),
        jaxprs=LinearSolveTuple(matvec_jaxpr, vecmat_jaxpr, solve_jaxpr, tr_jaxpr))
    return tree_util.tree_unflatten(out_tree, outs)


def _vecmat(matvec: Jaxpr, n_consts: int, b_avals):
    """matvec's transpose as a program taking (its own consts, matvec's consts, y): the
    backward pass of matvec, linear in x."""
    linear = (False,) * n_consts + (True,) * len(b_avals)
    program, consts = transpose_program(matvec, linear)
    return program, consts

