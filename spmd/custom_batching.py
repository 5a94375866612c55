"""jax.custom_batching: functions whose vmap is the user's rule, as JAX 0.10.2 has them.

    @custom_vmap
    def f(x, y): ...
    @f.def_vmap
    def f_vmap_rule(axis_size, in_batched, xs, ys):
        return out, out_batched       # out_batched: a bool per output leaf (a pytree like out)

Without vmap (eagerly, under jit, jvp) the function itself runs; under vmap the rule does, with
the batched arguments' mapped axis in front and `in_batched` a list with one bool pytree per
argument. Forward mode works (vmap of a jvp uses the JVP of the rule); reverse mode does not, as
in JAX: put custom_vjp outside to give the function a gradient. The primitive and its rules are
in transforms/custom_vmap.py.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms import lax, tree_util
from spmd.transforms.custom_derivatives import forward_attr
from spmd.transforms.custom_vmap import bind_custom_vmap

__all__ = ["custom_vmap", "sequential_vmap"]


def _name(fun) -> str:
    return getattr(fun, "__name__", "<unnamed function>")


def _resolve_kwargs(fun, args, kwargs) -> tuple:
    """The arguments as positional ones, by `fun`'s signature (JAX's rules and words); a
    functools.partial or a builtin without a signature takes positional arguments only."""
    try:
        signature = None if isinstance(fun, functools.partial) else inspect.signature(fun)
    except (TypeError, ValueError):
        signature = None
    if signature is None:
        passed = list(kwargs)
        args = tuple(args)
    else:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        passed = [k for k in bound.kwargs if k in kwargs]
        args = tuple(bound.args)
    if passed:
        raise TypeError("The following keyword arguments could not be resolved to positions: "
                        f"{', '.join(passed)}")
    return args


class custom_vmap:
    """Customize how a function batches under vmap (`jax.custom_batching.custom_vmap`); define
    the rule with `def_vmap`. See the module's docstring."""

    fun: Callable[..., Any]
    vmap_rule: Callable[..., tuple[Any, Any]] | None

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vmap_rule = None

    __getattr__ = forward_attr  # custom_vmap(custom_jvp(f)) still takes defjvp, as in JAX

    def def_vmap(self, vmap_rule: Callable[..., tuple[Any, Any]]):
        """Set the rule `vmap_rule(axis_size, in_batched, *args) -> (out, out_batched)`;
        returns it unchanged."""
        self.vmap_rule = vmap_rule
        return vmap_rule

    def __call__(self, *args, **kwargs):
        name = _name(self.fun)
        try:
            args = _resolve_kwargs(self.fun, args, kwargs)
        except TypeError as e:
            raise TypeError(f"The input arguments to the custom_vmap-decorated function {name} "
                            f"could not be resolved to positional-only arguments. Binding "
                            f"failed with the error:\n{e}") from e
        if not self.vmap_rule:
            raise AttributeError(f"No batching rule defined for custom_vmap function {name} "
                                 "using def_vmap.")
        leaves, in_tree = tree_util.tree_flatten(args)
        out_trees = []

        def flat(*xs):
            out_leaves, out_tree = tree_util.tree_flatten(
                self.fun(*tree_util.tree_unflatten(in_tree, xs)))
            out_trees.append(out_tree)
            return out_leaves
        rule = _FlatRule(self.vmap_rule, in_tree, out_trees)
        outs = bind_custom_vmap(flat, rule, leaves)
        return tree_util.tree_unflatten(out_trees[0], outs)


class _FlatRule:
    """The user's pytree rule on flat lists (the primitive's protocol), its results checked."""

    def __init__(self, rule, in_tree, out_trees: list):
        self.rule, self.in_tree, self.out_trees = rule, in_tree, out_trees
        self.__name__ = getattr(rule, "__name__", "<unnamed rule>")

    def __repr__(self):  # how a staged program prints the rule
        return self.__name__

    def __call__(self, axis_size, in_batched, args):
        batched = list(tree_util.tree_unflatten(self.in_tree, in_batched))
        result = self.rule(axis_size, batched, *tree_util.tree_unflatten(self.in_tree, args))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"custom vmap rule ({self.__name__}) must return a pair (output, "
                            f"out_batched), but returned {result!r:.200}")
        out, out_batched = result
        outs, out_tree = tree_util.tree_flatten(out)
        flags, flags_tree = tree_util.tree_flatten(out_batched)
        if out_tree != flags_tree:
            raise ValueError(
                "structure of output value and output batching specification returned by "
                f"custom vmap rule ({self.__name__}) do not match.\n"
                f"Output values: {out_tree}\nBatching spec: {flags_tree}")
        if out_tree != self.out_trees[0]:
            raise ValueError(
                f"structure of output returned by custom vmap rule ({self.__name__}) does not "
                "match that of original custom-vmapped function.\n"
                f"Original output: {self.out_trees[0]}\nRule output: {out_tree}")
        return outs, [bool(b) for b in flags]


# ---------------------------------------------------------------- sequential_vmap
def _tree_split(mask, tree):
    """(tree with the unmasked leaves None, tree with the masked leaves None)."""
    return (tree_util.tree_map(lambda m, x: x if m else None, mask, tree),
            tree_util.tree_map(lambda m, x: None if m else x, mask, tree))


def _tree_merge(mask, mapped, rest):
    return tree_util.tree_map(lambda m, a, b: a if m else b, mask, mapped, rest)


def sequential_vmap(f: Callable) -> custom_vmap:
    """A custom_vmap whose rule is a loop (`lax.map`) over the batch: for functions that do not
    batch by themselves (a host callback, a solver written for one example)."""
    f = custom_vmap(f)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        mapped, unmapped = _tree_split(in_batched, list(args))

        def one(example):
            return f(*_tree_merge(in_batched, example, unmapped))
        out = lax.map(one, mapped)
        return out, tree_util.tree_map(lambda _: True, out)
    return f


__getattr__ = _module_getattr("spmd.custom_batching", "jax.custom_batching")
