"""The user-level transforms over pytrees: jvp, linearize, vjp, grad, value_and_grad, vmap,
make_jaxpr. Each flattens its arguments, calls the flat transform, and rebuilds the structure."""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from transforms import core, dtypes, tree_util
from transforms.batching import vmap_flat
from transforms.core import AxisFrame
from transforms.jvp import Zero, instantiate, jvp_flat, linearize_flat
from transforms.staging import trace_to_jaxpr
from transforms.transpose import backward_pass


def _flat_fun(fun, in_tree, out_tree_box):
    def flat(*leaves):
        args = tree_util.tree_unflatten(in_tree, leaves)
        out = fun(*args)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves
    return flat


def _zeros_for(aval):
    """The cotangent of an input that got none: zeros (float0 for integer inputs, as in JAX)."""
    if not dtypes.is_inexact(aval.dtype):
        return np.zeros(aval.shape, dtypes.float0)
    return instantiate(Zero(aval), aval)


# ---------------------------------------------------------------- forward mode
def jvp(fun: Callable, primals, tangents, has_aux: bool = False):
    """(fun(*primals), J tangents), as in JAX: primals and tangents are tuples of pytrees."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists of arguments, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, in_tree = tree_util.tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_util.tree_flatten(tuple(tangents))
    if in_tree != t_tree:
        raise ValueError(f"jvp: primals {in_tree} and tangents {t_tree} must have the same "
                         "structure")
    for p, t in zip(p_leaves, t_leaves):
        pa, ta = core.get_aval(p), core.get_aval(t)
        if pa.shape != ta.shape:
            raise ValueError(f"jvp: tangent shape {ta.shape} does not match primal shape "
                             f"{pa.shape}")
    box = []
    aux_fun = _split_aux(fun, has_aux)
    outs, touts = jvp_flat(_flat_fun(aux_fun.main, in_tree, box), p_leaves, t_leaves)
    out_tree = box[0]
    touts = [instantiate(t, core.get_aval(o)) if dtypes.is_inexact(core.get_aval(o).dtype)
             else _zeros_for(core.get_aval(o)) for t, o in zip(touts, outs)]
    result = (tree_util.tree_unflatten(out_tree, outs), tree_util.tree_unflatten(out_tree, touts))
    return result + (aux_fun.aux(),) if has_aux else result


class _AuxSplitter:
    """Wraps `fun -> (out, aux)` so transforms see only `out`; aux is kept aside, untraced."""

    def __init__(self, fun, has_aux):
        self.fun, self.has_aux, self.box = fun, has_aux, []

    def main(self, *args):
        out = self.fun(*args)
        if not self.has_aux:
            return out
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("has_aux=True needs the function to return a pair (output, aux)")
        self.box.append(out[1])
        return out[0]

    def aux(self):
        return _strip_tracers(self.box[0])


def _strip_tracers(tree):
    from transforms.jvp import JVPTracer

    def strip(x):
        while isinstance(x, JVPTracer):
            x = x.primal
        return x
    return tree_util.tree_map(strip, tree)


def _split_aux(fun, has_aux):
    return _AuxSplitter(fun, has_aux)


def linearize(fun: Callable, *primals):
    """(fun(*primals), f_jvp) where f_jvp(*tangents) evaluates the linearization."""
    p_leaves, in_tree = tree_util.tree_flatten(primals)
    box = []
    outs, program, out_zero = linearize_flat(_flat_fun(fun, in_tree, box), p_leaves)
    out_tree = box[0]

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_util.tree_flatten(tangents)
        if t_tree != in_tree:
            raise ValueError(f"linearize: tangents {t_tree} must match primals {in_tree}")
        nz = iter(core.eval_closed(program, *t_leaves))
        return tree_util.tree_unflatten(out_tree, [
            _zeros_for(core.get_aval(o)) if z else next(nz) for o, z in zip(outs, out_zero)])
    return tree_util.tree_unflatten(out_tree, outs), f_jvp


# ---------------------------------------------------------------- reverse mode
def vjp(fun: Callable, *primals, has_aux: bool = False):
    """(fun(*primals), vjp_fn[, aux]); vjp_fn(cotangent) returns one cotangent per primal."""
    p_leaves, in_tree = tree_util.tree_flatten(primals)
    box = []
    aux_fun = _split_aux(fun, has_aux)
    outs, program, out_zero = linearize_flat(_flat_fun(aux_fun.main, in_tree, box), p_leaves)
    out_tree = box[0]
    in_avals = [core.get_aval(p) for p in p_leaves]

    def vjp_fn(cotangent):
        ct_leaves, ct_tree = tree_util.tree_flatten(cotangent)
        if ct_tree != out_tree:
            raise ValueError(f"vjp: the cotangent's structure {ct_tree} must match the output's "
                             f"{out_tree}")
        for c, o in zip(ct_leaves, outs):
            ca, oa = core.get_aval(c), core.get_aval(o)
            if ca.shape != oa.shape:
                raise ValueError(f"vjp: cotangent of shape {ca.shape} for an output of shape "
                                 f"{oa.shape}; they must match")
        cts = [c for c, z in zip(ct_leaves, out_zero) if not z]
        cts_in = backward_pass(program.jaxpr, program.consts, [], cts)
        return tuple(tree_util.tree_unflatten(in_tree, [
            _zeros_for(a) if type(c) is Zero else c for c, a in zip(cts_in, in_avals)]))
    result = (tree_util.tree_unflatten(out_tree, outs), vjp_fn)
    return result + (aux_fun.aux(),) if has_aux else result


def _argnums_tuple(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums {argnums} out of range for a function called with "
                             f"{nargs} positional arguments")
    return tuple(a % nargs for a in nums)


def _check_differentiable(x, where):
    aval = core.get_aval(x)
    if not dtypes.is_inexact(aval.dtype):
        raise TypeError(f"grad requires real- or complex-valued inputs (a floating-point dtype), "
                        f"but {where} has dtype {aval.dtype}. For integer or boolean inputs use "
                        "vjp, or convert them to float first.")


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
                   allow_int: bool = False):
    """f's value and its gradient with respect to the `argnums` arguments."""
    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        for i in nums:
            if not allow_int:
                for leaf in tree_util.tree_leaves(args[i]):
                    _check_differentiable(leaf, f"argument {i}")

        def partial_fun(*diff_args):
            full = list(args)
            for i, a in zip(nums, diff_args):
                full[i] = a
            return fun(*full, **kwargs)
        out = vjp(partial_fun, *[args[i] for i in nums], has_aux=has_aux)
        value, vjp_fn = out[0], out[1]
        leaves = tree_util.tree_leaves(value)
        if len(leaves) != 1 or core.get_aval(leaves[0]).shape != ():
            shapes = [core.get_aval(v).shape for v in leaves]
            raise TypeError(f"Gradient only defined for scalar-output functions. Output had "
                            f"shape: {shapes[0] if len(shapes) == 1 else shapes}.")
        out_aval = core.get_aval(leaves[0])
        if not dtypes.is_inexact(out_aval.dtype):
            raise TypeError(f"grad requires a real- or complex-valued output, got {out_aval.dtype}")
        from transforms.lax import full
        grads = vjp_fn(tree_util.tree_unflatten(tree_util.tree_structure(value),
                                                [full((), 1, out_aval.dtype)]))
        g = grads[0] if isinstance(argnums, int) else grads
        return ((value, out[2]) if has_aux else value), g
    return value_and_grad_f


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False):
    """The gradient of a scalar function with respect to the `argnums` arguments."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f


# ---------------------------------------------------------------- vmap
def _broadcast_prefix(prefix, tree, what):
    """`prefix` (an int/None or a pytree prefix of `tree`) expanded to one entry per leaf."""
    treedef = tree_util.tree_structure(tree)
    if prefix is None or isinstance(prefix, int):
        return [prefix] * treedef.num_leaves
    try:
        subtrees = tree_util.flatten_up_to(
            tree_util.tree_structure(prefix, is_leaf=lambda x: x is None), tree)
    except ValueError as e:
        raise ValueError(f"vmap {what} {prefix!r} is not a prefix of the arguments' structure "
                         f"{treedef}: {e}") from None
    prefix_leaves = tree_util.tree_leaves(prefix, is_leaf=lambda x: x is None)
    out = []
    for p, sub in zip(prefix_leaves, subtrees):
        out += [p] * tree_util.tree_structure(sub).num_leaves
    return out


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size=None,
         spmd_axis_name=None):
    """Vectorize `fun` over a new leading (or `in_axes`) axis, as in JAX."""
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple, dict))):
        raise TypeError(f"vmap in_axes must be an int, None, or a tuple/pytree of those, got "
                        f"{in_axes!r}")

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes has {len(in_axes)} entries but the function was "
                             f"called with {len(args)} positional arguments")
        num_kw_leaves = len(leaves) - tree_util.tree_structure(args).num_leaves
        dims = _broadcast_prefix(in_axes, args, "in_axes") + [0] * num_kw_leaves
        dims = [None if d is None else _canonical_axis(d, core.get_aval(x).ndim, "in_axes")
                for d, x in zip(dims, leaves)]
        size = _mapped_size(leaves, dims, in_tree, axis_size)
        box = []

        def flat(*xs):
            a, k = tree_util.tree_unflatten(in_tree, xs)
            out = fun(*a, **k)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            box.append((out_tree, out))
            return out_leaves

        def out_dims():  # out_axes is a prefix of the output, known once traced
            out_tree, out = box[0]
            return _broadcast_prefix(out_axes, out, "out_axes")
        outs = vmap_flat(flat, AxisFrame(axis_name, size, "vmap"), leaves, dims, out_dims)
        return tree_util.tree_unflatten(box[0][0], outs)
    return vmapped


def _canonical_axis(d, ndim, what):
    if not -ndim <= d < ndim:
        raise ValueError(f"vmap {what}={d} is out of range for an argument of rank {ndim}")
    return d % ndim


def _mapped_size(leaves, dims, in_tree, axis_size):
    sizes = {core.get_aval(x).shape[d] for x, d in zip(leaves, dims) if d is not None}
    if not sizes:
        if axis_size is None:
            raise ValueError("vmap must have at least one non-None value in in_axes, or be given "
                             "axis_size")
        return int(axis_size)
    if len(sizes) > 1:
        args, _ = tree_util.tree_unflatten(in_tree, leaves)
        described = []
        for i, arg in enumerate(args):
            arg_leaves = tree_util.tree_leaves(arg)
            start = sum(len(tree_util.tree_leaves(a)) for a in args[:i])
            arg_sizes = sorted({core.get_aval(x).shape[d] for x, d in zip(
                arg_leaves, dims[start:start + len(arg_leaves)]) if d is not None})
            if arg_sizes:
                described.append(f"argument {i} has mapped size {'/'.join(map(str, arg_sizes))}")
        raise ValueError("vmap got inconsistent sizes for the mapped axis: "
                         + "; ".join(described))
    size = sizes.pop()
    if axis_size is not None and axis_size != size:
        raise ValueError(f"vmap axis_size={axis_size} but the mapped inputs have size {size}")
    return size


# ---------------------------------------------------------------- inspection
def make_jaxpr(fun: Callable, static_argnums=()):
    """`make_jaxpr(f)(*args)` returns the program `f` stages for those arguments (printable)."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        dyn = [a for i, a in enumerate(args) if i not in static]
        leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))

        def flat(*xs):
            d, k = tree_util.tree_unflatten(in_tree, xs)
            it = iter(d)
            full = [args[i] if i in static else next(it) for i in range(len(args))]
            return tree_util.tree_leaves(fun(*full, **k))
        return trace_to_jaxpr(flat, [core.get_aval(x) for x in leaves])
    return make

