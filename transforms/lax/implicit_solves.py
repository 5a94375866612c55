"""jax.lax.custom_root: a solver's result, differentiated implicitly
(through the equation it solves) instead of through the solver's iterations. The function's
closed-over values (the parameters derivatives flow to) are made explicit arguments with
closure_convert, so the custom rules can name them."""
from __future__ import annotations

from typing import Callable

from spmd.transforms import tree_util
from spmd.transforms.api import jvp
from spmd.transforms.closure_rules import closure_convert
from spmd.transforms.custom_derivatives import custom_jvp
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
