"""custom_jvp and custom_vjp: functions whose derivative is the user's rule, not the one
autodiff would derive from their implementation, as JAX's `jax.custom_jvp` / `jax.custom_vjp`.

Each call flattens its pytree arguments and binds a call primitive of transforms/custom_calls.py
(which holds every rule); this module adapts the user's function and rules to the primitives'
flat protocols and checks what the rules return, with JAX's error texts.

Known limitation (as in JAX for differentiation): a custom function must not close over values
traced by a grad, jvp or vmap it is applied under; pass them as arguments instead.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.api import partial_args
from spmd.transforms.custom_calls import custom_jvp_call_p, custom_vjp_call_p
from spmd.transforms.jvp import Zero, instantiate
from spmd.transforms.lax import convert_element_type
from spmd.transforms.stop_gradient import stop_gradient


# ---------------------------------------------------------------- key-like pytree nodes
# Pytree node types that JAX treats as arrays of an extended dtype (typed PRNG keys): a user's
# rule sees one float0 array of the node's `shape` as its tangent or cotangent, not a node of
# float0 leaves. The layer that defines such a type registers it (spmd.random: its key arrays).
_float0_tangent_types: set[type] = set()


def register_float0_tangent_type(cls: type):
    """Make `cls` (a pytree node with a `shape`) carry one float0 tangent in custom rules."""
    _float0_tangent_types.add(cls)
    return cls


def _is_key_like(x) -> bool:
    return type(x) in _float0_tangent_types


def _float0_like(node):
    return np.zeros(node.shape, dtypes.float0)


def _check_float0(t, node, rule_name, what):
    """A user's (co)tangent for a key-like value: None or float0 of the node's shape."""
    if t is None:
        return
    aval = core.get_aval(t) if not _is_key_like(t) else None
    if aval is None or aval.dtype != dtypes.float0 or aval.shape != tuple(node.shape):
        got = "a key array" if aval is None else aval.str_short()
        raise TypeError(f"Custom {what} rule {rule_name} gave {got} for a PRNG key array of "
                        f"shape {tuple(node.shape)}; its {'co' * (what != 'JVP')}tangent must be "
                        f"float0 with that shape: np.zeros(key.shape, dtypes.float0)")


def _keys_as_float0(primals_tree, tangents_tree):
    """The tangents' tree with each key-like node replaced by its one float0 array."""
    if not _float0_tangent_types:
        return tangents_tree
    return tree_util.tree_map(lambda p, t: _float0_like(p) if _is_key_like(p) else t,
                              primals_tree, tangents_tree, is_leaf=_is_key_like)


def _keys_as_nodes(primals_tree, user_tree, rule_name, what, fill):
    """A user's (co)tangent tree with each key-like position (None or float0) turned back into
    the node's structure, its leaves `fill(leaf)`, so that it flattens like the primals."""
    if not _float0_tangent_types:
        return user_tree

    def back(p, t):
        if not _is_key_like(p):
            return t
        _check_float0(t, p, rule_name, what)
        leaves, node = tree_util.tree_flatten(p)
        return tree_util.tree_unflatten(node, [fill(x) for x in leaves])
    return tree_util.tree_map(back, primals_tree, user_tree, is_leaf=_is_key_like)


# ---------------------------------------------------------------- the user's decorators
def _resolve_kwargs(fun, args, kwargs) -> tuple:
    """Keyword arguments moved to their positions (custom rules take positional arguments)."""
    if not kwargs:
        return tuple(args)
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot bind the arguments of {_name(fun)}: {e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError("keyword arguments could not be resolved to positions; custom_jvp and "
                        "custom_vjp functions take their differentiable inputs positionally")
    return tuple(bound.args)


def _name(fun) -> str:
    return getattr(fun, "__name__", str(fun))


def _split_nondiff(nondiff_argnums, args):
    """(positions of the differentiable args, the non-differentiable values in order)."""
    for i in nondiff_argnums:
        if not -len(args) <= i < len(args):
            raise ValueError(f"nondiff_argnums {tuple(nondiff_argnums)} out of range for a call "
                             f"with {len(args)} positional arguments")
    nondiff = {i % len(args) for i in nondiff_argnums}
    return ([i for i in range(len(args)) if i not in nondiff],
            [args[i % len(args)] for i in nondiff_argnums])


class _OutputType:
    """The output structure and types of a custom function, recorded by whichever of the
    function and its rule runs first and checked against by the other."""

    def __init__(self, fun_name, rule_kind, rule_name):
        self.tree, self.avals = None, None
        self.fun_name, self.rule_kind, self.rule_name = fun_name, rule_kind, rule_name

    def record(self, tree, leaves):
        avals = [core.get_aval(x).strip_weak() for x in leaves]
        if self.tree is None:
            self.tree, self.avals = tree, avals
            return
        if tree != self.tree or [(a.shape, a.dtype) for a in avals] != [
                (a.shape, a.dtype) for a in self.avals]:
            what = f"the first element of its {self.rule_kind} rule {self.rule_name}'s output"
            raise TypeError(
                f"Custom {self.rule_kind.upper()} rule {self.rule_name} for function "
                f"{self.fun_name} must produce a pair (list or tuple of length two) whose first "
                f"element is the primal output, equal in structure, shapes and dtypes to the "
                f"output of {self.fun_name}; but {what} is {_typed(tree, avals)} while "
                f"{self.fun_name} returns {_typed(self.tree, self.avals)}")


def _typed(tree, avals) -> str:
    return str(tree_util.tree_unflatten(tree, [a.str_short() for a in avals])).replace("'", "")


def _flat_fun(fun, in_tree, out_type: _OutputType):
    def flat(*leaves):
        out = fun(*tree_util.tree_unflatten(in_tree, leaves))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_type.record(out_tree, out_leaves)
        return out_leaves
    return flat


def _check_pair(out, rule_kind, rule_name, fun_name, second):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"Custom {rule_kind} rule {rule_name} for function {fun_name} must "
                        f"produce a pair (list or tuple of length two) of the primal output and "
                        f"the {second}, but got {out!r:.200}")
    return out


def _tangent_for_user(t, primal):
    """What a user's jvp rule receives for a symbolic zero: zeros (float0 for integers)."""
    if type(t) is not Zero:
        return t
    aval = core.get_aval(primal)
    if not dtypes.is_inexact(aval.dtype):
        return np.zeros(aval.shape, dtypes.float0)
    return instantiate(t, aval)


def _tangent_from_user(t, primal_out, rule_name):
    """A tangent returned by a user's jvp rule, checked and typed like its primal output."""
    pa = core.get_aval(primal_out).strip_weak()
    if not dtypes.is_inexact(pa.dtype):
        return Zero(pa)
    ta = core.get_aval(t)
    if ta.shape != pa.shape or (ta.dtype != pa.dtype and not ta.weak_type):
        raise TypeError(f"Custom JVP rule {rule_name} must produce primal and tangent outputs "
                        f"with equal shapes and dtypes, but got {pa.str_short()} and "
                        f"{ta.strip_weak().str_short()} respectively.")
    if ta.dtype != pa.dtype:
        return convert_element_type(t, pa.dtype)
    return t


def _flat_jvp(rule, in_tree, out_type: _OutputType):
    """The user's `rule(primals, tangents) -> (primal_out, tangent_out)` on flat lists."""
    names = (out_type.rule_name, out_type.fun_name)

    def flat(primals, tangents):
        tangents = [_tangent_for_user(t, p) for p, t in zip(primals, tangents)]
        primals_tree = tree_util.tree_unflatten(in_tree, primals)
        out = rule(primals_tree, _keys_as_float0(primals_tree,
                                                 tree_util.tree_unflatten(in_tree, tangents)))
        p_out, t_out = _check_pair(out, "JVP", *names, "tangent output")
        # a key output's float0 tangent stands for its (integer) leaves, whose tangents are Zero
        t_out = _keys_as_nodes(p_out, t_out, names[0], "JVP", lambda leaf: leaf)
        p_leaves, p_tree = tree_util.tree_flatten(p_out)
        t_leaves, t_tree = tree_util.tree_flatten(t_out)
        if p_tree != t_tree:
            raise TypeError(f"Custom JVP rule {names[0]} for function {names[1]} must produce "
                            f"primal and tangent outputs with equal container (pytree) "
                            f"structures, but got {p_tree} and {t_tree} respectively.")
        out_type.record(p_tree, p_leaves)
        return p_leaves, [_tangent_from_user(t, p, names[0]) for t, p in zip(t_leaves, p_leaves)]
    return flat


def forward_attr(self, name):
    """What the wrapped function has, as JAX forwards it: `custom_vjp(custom_vmap(f))` still
    takes `def_vmap`."""
    if name == "fun":  # not set yet: no function to ask
        raise AttributeError(name)
    return getattr(self.fun, name)


class custom_jvp:
    """A function with a custom JVP rule, as `jax.custom_jvp`:

        @custom_jvp
        def f(x): ...
        @f.defjvp
        def f_jvp(primals, tangents): return f(*primals), tangent_out

    Arguments at `nondiff_argnums` are passed to the rule first, `rule(*nondiff, primals,
    tangents)`, and get no tangent. Forward mode, reverse mode (through linearization of the
    rule), vmap and jit all use the rule.
    """

    def __init__(self, fun: Callable, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    __getattr__ = forward_attr

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False):
        if symbolic_zeros:
            raise NotImplementedError("custom_jvp.defjvp(symbolic_zeros=True) is not supported: "
                                      "the rule receives zeros for inputs without a tangent")
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        """One function per argument, `fn(tangent, primal_out, *primals)`, None for none."""
        if self.nondiff_argnums:
            raise TypeError("Can't use ``defjvps`` with ``nondiff_argnums``.")

        def jvp(primals, tangents):
            primal_out = self(*primals)
            parts = [fn(t, primal_out, *primals) for fn, t in zip(jvps, tangents) if fn]
            if not parts:
                return primal_out, tree_util.tree_map(
                    lambda p: _tangent_for_user(Zero(core.get_aval(p)), p), primal_out)
            return primal_out, functools.reduce(
                lambda a, b: tree_util.tree_map(lambda x, y: x + y, a, b), parts)
        self.defjvp(jvp)

    def __call__(self, *args, **kwargs):
        fun_name = _name(self.fun)
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {fun_name} using "
                                 "defjvp.")
        args = _resolve_kwargs(self.fun, args, kwargs)
        fun, rule, dyn = self.fun, self.jvp, args
        if self.nondiff_argnums:
            dyn_nums, _ = _split_nondiff(self.nondiff_argnums, args)
            # non-differentiable arguments get no tangent even when they are traced values
            args = tuple(stop_gradient(a) if i not in dyn_nums else a for i, a in enumerate(args))
            nondiff = [args[i % len(args)] for i in self.nondiff_argnums]
            fun = partial_args(self.fun, args, {}, dyn_nums)
            rule = functools.partial(self.jvp, *nondiff)
            dyn = tuple(args[i] for i in dyn_nums)
        if core.current_trace() is core.eval_trace:
            return fun(*dyn)  # nothing differentiates or stages here: just run it
        leaves, in_tree = tree_util.tree_flatten(dyn)
        out_type = _OutputType(fun_name, "jvp", _name(self.jvp))
        outs = custom_jvp_call_p.bind(*leaves, fun=_flat_fun(fun, in_tree, out_type),
                                      jvp=_flat_jvp(rule, in_tree, out_type), num_consts=0)
        return tree_util.tree_unflatten(out_type.tree, outs)


# ---------------------------------------------------------------- custom_vjp
def _flat_fwd(fwd, in_tree, out_type: _OutputType):
    """The user's `fwd(*args) -> (out, residuals)` on flat lists: (outs, res, res_tree)."""
    names = (out_type.rule_name, out_type.fun_name)

    def flat(primals):
        out = fwd(*tree_util.tree_unflatten(in_tree, primals))
        p_out, res = _check_pair(out, "VJP fwd", *names,
                                 "residuals (values saved for the backward pass)")
        p_leaves, p_tree = tree_util.tree_flatten(p_out)
        out_type.record(p_tree, p_leaves)
        res_leaves, res_tree = tree_util.tree_flatten(res)
        return p_leaves, res_leaves, res_tree
    return flat


def _flat_bwd(bwd, in_tree, in_avals, out_type: _OutputType):
    """The user's `bwd(residuals, ct) -> tuple of cotangents per argument` on flat lists: takes
    cotangents per output leaf (None for integer outputs) and returns one per input leaf (None
    where the rule gives None or the input is an integer)."""
    bwd_name = _name(bwd.func if isinstance(bwd, functools.partial) else bwd)

    def flat(res_tree, res, cts):
        cts = [np.zeros(a.shape, dtypes.float0) if c is None else c
               for c, a in zip(cts, out_type.avals)]
        cts_in = bwd(tree_util.tree_unflatten(res_tree, res),
                     tree_util.tree_unflatten(out_type.tree, cts))
        arg_trees = tree_util.treedef_children(in_tree)
        # the arguments' types, where key-like nodes may take one float0 cotangent
        arg_avals = tree_util.tree_unflatten(in_tree, in_avals) if _float0_tangent_types else None
        if not isinstance(cts_in, tuple) or len(cts_in) != len(arg_trees):
            raise TypeError(
                f"Custom VJP bwd rule {bwd_name} must produce a tuple with one cotangent per "
                f"argument of the primal function ({len(arg_trees)}, None meaning zero), with the "
                f"same container (pytree) structure as the args tuple, but got "
                f"{tree_util.tree_structure(cts_in)} for primal input structure {in_tree}.")
        leaves = []
        for i, (arg_tree, ct) in enumerate(zip(arg_trees, cts_in)):
            if ct is None:
                leaves += [None] * arg_tree.num_leaves
                continue
            if _float0_tangent_types:
                ct = _keys_as_nodes(arg_avals[i], ct, bwd_name, "VJP bwd", lambda leaf: None)
            try:
                leaves += tree_util.flatten_up_to(arg_tree, ct)
            except ValueError:
                raise TypeError(f"Custom VJP bwd rule {bwd_name} produced a cotangent for "
                                f"argument {i} with structure {tree_util.tree_structure(ct)}, "
                                f"but the argument has structure {arg_tree}.") from None
        return [_cotangent_from_user(ct, a, bwd_name) for ct, a in zip(leaves, in_avals)]
    return flat


def _cotangent_from_user(ct, aval, bwd_name):
    if ct is None or not dtypes.is_inexact(aval.dtype):
        return None
    ca = core.get_aval(ct)
    want = aval.strip_weak()
    if ca.shape != want.shape or (ca.dtype != want.dtype and not ca.weak_type):
        raise TypeError(f"Custom VJP bwd rule {bwd_name} must produce an output with "
                        f"shapes/dtypes as the args tuple of the primal function, but it "
                        f"produced {ca.strip_weak().str_short()} for an input of "
                        f"{want.str_short()}.")
    if ca.dtype != want.dtype:
        return convert_element_type(ct, want.dtype)
    return ct


def _check_for_tracers(x):
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, core.Tracer):
            raise TypeError(
                "Found a traced value passed as an argument to a custom_vjp function in a "
                "position indicated by nondiff_argnums as non-differentiable. Traced values "
                "cannot be passed as non-differentiable arguments to custom_vjp functions; "
                "nondiff_argnums should only be used for arguments that can't be or contain "
                "traced values, e.g. function-valued arguments. Pass arrays as ordinary "
                "arguments (and return None as their cotangent from bwd).")


class custom_vjp:
    """A function with a custom VJP rule, as `jax.custom_vjp`:

        @custom_vjp
        def f(x): ...
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (cotangent_of_x,)   # None for a zero cotangent
        f.defvjp(f_fwd, f_bwd)

    With `nondiff_argnums`, fwd takes all arguments like f and `bwd(*nondiff, residuals, g)`.
    Reverse mode (grad, vjp, jacrev), vmap and jit use the rule; forward mode is an error.
    """

    def __init__(self, fun: Callable, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    __getattr__ = forward_attr

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False):
        if symbolic_zeros:
            raise NotImplementedError("custom_vjp.defvjp(symbolic_zeros=True) is not supported: "
                                      "bwd receives zeros for outputs without a cotangent")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        fun_name = _name(self.fun)
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {fun_name} using "
                                 "defvjp.")
        args = _resolve_kwargs(self.fun, args, kwargs)
        fun, fwd, bwd, dyn = self.fun, self.fwd, self.bwd, args
        if self.nondiff_argnums:
            dyn_nums, nondiff = _split_nondiff(self.nondiff_argnums, args)
            for x in nondiff:
                _check_for_tracers(x)
            fun = partial_args(self.fun, args, {}, dyn_nums)
            fwd = partial_args(self.fwd, args, {}, dyn_nums)
            bwd = functools.partial(self.bwd, *nondiff)
            dyn = tuple(args[i] for i in dyn_nums)
        if core.current_trace() is core.eval_trace:
            return fun(*dyn)  # nothing differentiates or stages here: just run it
        leaves, in_tree = tree_util.tree_flatten(dyn)
        out_type = _OutputType(fun_name, "vjp fwd", _name(self.fwd))
        in_avals = [core.get_aval(x) for x in leaves]
        outs = custom_vjp_call_p.bind(
            *leaves, fun=_flat_fun(fun, in_tree, out_type), fwd=_flat_fwd(fwd, in_tree, out_type),
            bwd=_flat_bwd(bwd, in_tree, in_avals, out_type), num_consts=0)
        return tree_util.tree_unflatten(out_type.tree, outs)
