"""jax.custom_gradient and jax.closure_convert: custom derivatives written as closures.

custom_gradient's `fun(*args) -> (out, vjp_rule)` returns its backward rule as a Python
function that may close over traced values of the forward pass; custom_vjp's residuals must be
arrays, so the rule is staged into a program and its closed-over values (the program's consts)
become the residuals. closure_convert does the same for a function passed to a higher-order
custom rule (custom_root, an ODE solver): the values it closes over become explicit arguments."""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from spmd.transforms import core, dtypes, staging, tree_util
from spmd.transforms.custom_derivatives import custom_vjp


class _StagedRule:
    """A staged backward rule as a pytree: its program (structure) and consts (leaves)."""

    def __init__(self, jaxpr, consts, in_tree, out_tree):
        self.jaxpr, self.consts, self.in_tree, self.out_tree = jaxpr, consts, in_tree, out_tree


tree_util.register_pytree_node(
    _StagedRule, lambda r: (r.consts, (r.jaxpr, r.in_tree, r.out_tree)),
    lambda aux, consts: _StagedRule(aux[0], list(consts), aux[1], aux[2]))


def _stage(fun: Callable, example_tree):
    """fun(tree like example_tree) staged: (ClosedJaxpr, input treedef, output treedef)."""
    leaves, in_tree = tree_util.tree_flatten(example_tree)
    box = []

    def flat(*xs):
        out_leaves, out_tree = tree_util.tree_flatten(fun(*tree_util.tree_unflatten(in_tree,
                                                                                    xs)))
        box.append(out_tree)
        return out_leaves
    closed = staging.trace_to_jaxpr(flat, [core.get_aval(x) for x in leaves])
    return closed, in_tree, box[0]


def custom_gradient(fun: Callable) -> Callable:
    """jax.custom_gradient: `fun(*args) -> (out, vjp_rule)` where `vjp_rule(ct)` returns one
    cotangent per argument (a bare value for one argument); grad uses that rule."""
    @custom_vjp
    def wrapped(*args):
        return fun(*args)[0]

    def fwd(*args):
        out, rule = fun(*args)
        example_ct = tree_util.tree_map(
            lambda x: np.zeros(core.get_aval(x).shape, core.get_aval(x).dtype), out)
        closed, ct_tree, res_tree = _stage(lambda ct: rule(ct), (example_ct,))
        return out, _StagedRule(closed.jaxpr, closed.consts, ct_tree, res_tree)

    def bwd(staged, ct):
        ct_leaves, ct_tree = tree_util.tree_flatten((ct,))
        if ct_tree != staged.in_tree:
            raise TypeError(f"custom_gradient: the cotangent's structure {ct_tree} differs "
                            f"from the output's {staged.in_tree}")
        cts = tree_util.tree_unflatten(staged.out_tree,
                                       core.eval_jaxpr(staged.jaxpr, staged.consts, *ct_leaves))
        return (cts,) if tree_util.treedef_is_leaf(staged.out_tree) else tuple(cts)

    wrapped.defvjp(fwd, bwd)
    return functools.wraps(fun)(wrapped) if hasattr(fun, "__name__") else wrapped


def closure_convert(fun: Callable, *example_args):
    """jax.closure_convert: (converted, consts) with `converted(*args, *consts) == fun(*args)`;
    the floating-point values `fun` closes over (traced ones included) become `consts`."""
    closed, in_tree, out_tree = _stage(lambda *a: fun(*a), example_args)
    hoisted = [dtypes.is_inexact(core.get_aval(c).dtype) for c in closed.consts]
    consts = [c for c, h in zip(closed.consts, hoisted) if h]
    kept = [c for c, h in zip(closed.consts, hoisted) if not h]

    def converted(*args_and_consts):
        args, given = args_and_consts[:len(example_args)], args_and_consts[len(example_args):]
        if len(given) != len(consts):
            raise TypeError(f"closure_convert: the converted function takes the "
                            f"{len(example_args)} arguments then the {len(consts)} consts, "
                            f"got {len(args_and_consts)} values")
        leaves, tree = tree_util.tree_flatten(args)
        if tree != in_tree:
            raise TypeError(f"closure_convert: the arguments' structure {tree} differs from "
                            f"the example arguments' {in_tree}")
        given_it, kept_it = iter(given), iter(kept)
        all_consts = [next(given_it) if h else next(kept_it) for h in hoisted]
        return tree_util.tree_unflatten(out_tree,
                                        core.eval_jaxpr(closed.jaxpr, all_consts, *leaves))
    return converted, consts
