"""jax.lax.custom_root and custom_linear_solve: a solver's result, differentiated implicitly
(through the equation it solves) instead of through the solver's iterations. The functions'
closed-over values (the parameters derivatives flow to) are made explicit arguments with
closure_convert, so the custom rules can name them."""
from __future__ import annotations

from typing import Callable

from spmd.transforms import tree_util
from spmd.transforms.api import jvp, vjp
from spmd.transforms.closure_rules import closure_convert
from spmd.transforms.custom_derivatives import custom_jvp, custom_vjp
from spmd.transforms.stop_gradient import stop_gradient


def _no_aux(name: str, has_aux: bool):
    if has_aux:
        raise NotImplementedError(f"spmd's {name} does not take has_aux=True yet: return the "
                                  "auxiliary values from a separate call of the solver")


def _neg(tree):
    return tree_util.tree_map(lambda v: -v, tree)


def custom_root(f: Callable, initial_guess, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False):
    """jax.lax.custom_root: `solve(f, initial_guess)`, a root x of f, whose derivative with
    respect to the values f closes over comes from f(x) = 0: dx = -tangent_solve(g, df) with g
    the linear map v -> (df/dx) v. `tangent_solve(g, y)` solves g(v) = y and must be linear in
    y (for grad): `lambda g, y: y / g(1.0)` for scalars."""
    _no_aux("custom_root", has_aux)
    f_explicit, consts = closure_convert(f, initial_guess)

    @custom_jvp
    def root(consts, guess):
        return solve(lambda x: f_explicit(x, *consts), stop_gradient(guess))

    @root.defjvp
    def root_jvp(primals, tangents):
        consts, guess = primals
        x = root(consts, guess)
        _, df = jvp(lambda c: f_explicit(x, *c), (consts,), (tangents[0],))
        along_x = lambda v: jvp(lambda y: f_explicit(y, *consts), (x,), (v,))[1]  # noqa: E731
        return x, _neg(tangent_solve(along_x, df))

    return root(tuple(consts), initial_guess)


def custom_linear_solve(matvec: Callable, b, solve: Callable,
                        transpose_solve: Callable | None = None, symmetric: bool = False,
                        has_aux: bool = False):
    """jax.lax.custom_linear_solve: x = solve(matvec, b) for the linear map `matvec`, with
    reverse-mode derivatives from A x = b: the cotangent of b is the solution of the
    transposed system (`transpose_solve(vecmat, ct)`, or `solve` when `symmetric`), and the
    values matvec closes over get minus its product with x through matvec. The solvers are
    not differentiated: what they close over gets no gradient."""
    _no_aux("custom_linear_solve", has_aux)
    matvec_explicit, consts = closure_convert(matvec, b)
    n_consts = len(consts)
    solve_explicit, solve_consts = closure_convert(lambda rhs: solve(matvec, rhs), b)
    if symmetric:
        transpose_solve = solve
    if transpose_solve is None:
        transposed_explicit, transposed_consts = None, []
    else:
        def solve_transposed(ct):
            _, vecmat = vjp(matvec, b)
            return transpose_solve(lambda w: vecmat(w)[0], ct)
        transposed_explicit, transposed_consts = closure_convert(solve_transposed, b)
    n_solve = len(solve_consts)

    def forward(all_consts, b):
        return solve_explicit(b, *all_consts[n_consts:n_consts + n_solve])

    def fwd(all_consts, b):
        x = forward(all_consts, b)
        return x, (all_consts, x)

    def bwd(residuals, ct):
        all_consts, x = residuals
        if transposed_explicit is None:
            raise TypeError("custom_linear_solve: transpose_solve is required for reverse-mode "
                            "differentiation (grad) unless symmetric=True")
        ct_b = transposed_explicit(ct, *all_consts[n_consts + n_solve:])
        own = tuple(all_consts[:n_consts])
        _, through_consts = vjp(lambda c: matvec_explicit(x, *c), own)
        ct_consts = list(_neg(through_consts(ct_b)[0]))
        rest = [tree_util.tree_map(lambda v: v * 0, c) for c in all_consts[n_consts:]]
        return tuple(ct_consts + rest), ct_b

    wrapped = custom_vjp(forward)
    wrapped.defvjp(fwd, bwd)
    return wrapped(tuple(consts) + tuple(solve_consts) + tuple(transposed_consts), b)
