"""The user-level transforms over pytrees: jvp, linearize, vjp, grad, value_and_grad, vmap,
make_jaxpr. Each flattens its arguments, calls the flat transform, and rebuilds the structure."""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from spmd.transforms import arguments, core, dtypes, tree_util
from spmd.transforms.arguments import argnums_tuple, partial_args
from spmd.transforms.batching import vmap_flat
from spmd.transforms.core import AxisFrame
from spmd.transforms.jvp import JVPTracer, Zero, instantiate, jvp_flat, linearize_flat
from spmd.transforms.lax import convert_element_type, full
from spmd.transforms.staging import trace_to_jaxpr
from spmd.transforms.transpose import backward_pass


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
    t_leaves = [_checked_tangent(p, t) for p, t in zip(p_leaves, t_leaves)]
    box = []
    aux_fun = _split_aux(fun, has_aux)
    outs, touts = jvp_flat(_flat_fun(aux_fun.main, in_tree, box), p_leaves, t_leaves)
    out_tree = box[0]
    touts = [instantiate(t, core.get_aval(o)) if dtypes.is_inexact(core.get_aval(o).dtype)
             else _zeros_for(core.get_aval(o)) for t, o in zip(touts, outs)]
    result = (tree_util.tree_unflatten(out_tree, outs), tree_util.tree_unflatten(out_tree, touts))
    return result + (aux_fun.aux(),) if has_aux else result


def _checked_tangent(primal, tangent):
    """The tangent of one primal leaf as jvp_flat takes it: float0 tangents of integer values
    become symbolic zeros, weak Python scalars take the primal's dtype; mismatches are errors."""
    pa, ta = core.get_aval(primal), core.get_aval(tangent)
    if pa.shape != ta.shape:
        raise ValueError(f"jvp called with different primal and tangent shapes; got primal "
                         f"shape {pa.shape} and tangent shape {ta.shape}")
    expected = pa.tangent_aval().dtype
    if expected == dtypes.float0:
        if ta.dtype != dtypes.float0:
            raise TypeError(
                f"primal and tangent arguments to jvp do not match; dtypes must be equal, or in "
                f"case of int/bool primal dtype the tangent dtype must be float0. Got primal "
                f"dtype {pa.dtype} and so expected tangent dtype float0, but got tangent dtype "
                f"{ta.dtype} instead. Pass np.zeros(shape, spmd.dtypes.float0) as its tangent.")
        return Zero(pa)
    if ta.dtype != expected:
        if not ta.weak_type:
            raise TypeError(
                f"primal and tangent arguments to jvp do not match; dtypes must be equal. Got "
                f"primal dtype {pa.dtype} and so expected tangent dtype {expected}, but got "
                f"tangent dtype {ta.dtype} instead.")
        return convert_element_type(tangent, expected)
    return tangent


class _AuxSplitter:
    """Wraps `fun -> (out, aux)` so the transform differentiates only `out`. Aux leaves the
    transform as a primal of *this* transform only: outer transforms (grad of a function that
    returns an inner grad's aux) still see it as their traced value and differentiate it."""

    def __init__(self, fun, has_aux):
        self.fun, self.has_aux, self.box = fun, has_aux, []

    def main(self, *args):
        out = self.fun(*args)
        if not self.has_aux:
            return out
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("has_aux=True needs the function to return a pair (output, aux)")
        # the function runs under this transform's own trace, so that is the one to leave
        own = core.current_trace()
        self.box.append(tree_util.tree_map(lambda x: _primal_of(x, own), out[1]))
        return out[0]

    def aux(self):
        return self.box[0]


def _primal_of(x, trace):
    if isinstance(x, JVPTracer) and x._trace is trace:
        return x.primal
    return x


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
        cts_in = backward_pass(program.jaxpr, program.consts, cts)
        return tuple(tree_util.tree_unflatten(in_tree, [
            _zeros_for(a) if type(c) is Zero else c for c, a in zip(cts_in, in_avals)]))
    result = (tree_util.tree_unflatten(out_tree, outs), vjp_fn)
    return result + (aux_fun.aux(),) if has_aux else result


def check_input_dtype_revderiv(name: str, holomorphic: bool, allow_int: bool, x):
    """JAX's rule for what reverse-mode derivatives (grad, jacrev) accept as inputs."""
    dtype = core.get_aval(x).dtype
    if holomorphic and not dtypes.is_complex(dtype):
        raise TypeError(f"{name} with holomorphic=True requires inputs with complex dtype, but "
                        f"got {dtype}.")
    if not dtypes.is_inexact(dtype) and not allow_int:
        raise TypeError(f"{name} requires real- or complex-valued inputs (input dtype that is a "
                        f"sub-dtype of np.inexact), but got {dtype}. If you want to use Boolean- "
                        "or integer-valued inputs, use vjp or set allow_int to True.")


def check_output_dtype_revderiv(name: str, holomorphic: bool, x):
    """JAX's rule for the outputs of grad and jacrev: real floats (complex when holomorphic)."""
    dtype = core.get_aval(x).dtype
    if holomorphic:
        if not dtypes.is_complex(dtype):
            raise TypeError(f"{name} with holomorphic=True requires outputs with complex dtype, "
                            f"but got {dtype}.")
    elif dtypes.is_complex(dtype):
        raise TypeError(f"{name} requires real-valued outputs (output dtype that is a sub-dtype "
                        f"of np.floating), but got {dtype}. For holomorphic differentiation, pass "
                        "holomorphic=True. For differentiation of non-holomorphic functions "
                        "involving complex outputs, use spmd.vjp directly.")
    elif not dtypes.is_float(dtype):
        raise TypeError(f"{name} requires real-valued outputs (output dtype that is a sub-dtype "
                        f"of np.floating), but got {dtype}. For differentiation of functions "
                        "with integer outputs, use spmd.vjp directly.")


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
                   allow_int: bool = False):
    """f's value and its gradient with respect to the `argnums` arguments. Integer and boolean
    arguments are rejected unless allow_int=True; their gradients are then float0 zeros."""
    arguments.check_callable(fun, "value_and_grad")
    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        nums = argnums_tuple(argnums, len(args))
        for i in nums:
            for leaf in tree_util.tree_leaves(args[i]):
                check_input_dtype_revderiv("grad", holomorphic, allow_int, leaf)
        out = vjp(partial_args(fun, args, kwargs, nums), *[args[i] for i in nums],
                  has_aux=has_aux)
        value, vjp_fn = out[0], out[1]
        leaves = tree_util.tree_leaves(value)
        if len(leaves) != 1 or core.get_aval(leaves[0]).shape != ():
            shapes = [core.get_aval(v).shape for v in leaves]
            raise TypeError(f"Gradient only defined for scalar-output functions. Output had "
                            f"shape: {shapes[0] if len(shapes) == 1 else shapes}.")
        out_aval = core.get_aval(leaves[0])
        check_output_dtype_revderiv("grad", holomorphic, leaves[0])
        grads = vjp_fn(tree_util.tree_unflatten(tree_util.tree_structure(value),
                                                [full((), 1, out_aval.dtype)]))
        g = grads[0] if isinstance(argnums, int) else grads
        return ((value, out[2]) if has_aux else value), g
    return value_and_grad_f


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False):
    """The gradient of a scalar function with respect to the `argnums` arguments."""
    arguments.check_callable(fun, "grad")
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f


# ---------------------------------------------------------------- vmap
def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size=None,
         spmd_axis_name=None):
    """Vectorize `fun` over a new leading (or `in_axes`) axis, as in JAX.

    `in_axes`: an int, None, or a tuple with one entry per positional argument, each an int,
    None or a pytree prefix of that argument (dicts, tuples, lists); negative axes count from
    the end. Keyword arguments are always mapped along axis 0. `out_axes`: likewise, a prefix of
    the output; None for an output that does not vary along the mapped axis. `axis_size` gives
    the size when no input is mapped; `axis_name` binds the axis for collectives (psum, ...).
    `spmd_axis_name`: a mesh axis name (or a tuple of them); inside jit over a mesh, the mapped
    dimension is split over it in every with_sharding_constraint and shard_map inside.
    """
    arguments.check_callable(fun, "vmap")
    spmd_names = _spmd_axis_names(spmd_axis_name)
    in_spec = arguments.axes_spec(in_axes, "in_axes", "vmap", per_argument=True)
    out_spec = arguments.axes_spec(out_axes, "out_axes", "vmap")

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        positions = tuple(range(len(args)))
        labels = arguments.labels_for(fun, in_tree, positions)
        dims = arguments.in_axes_per_leaf(in_spec.key, in_tree, positions, len(args), "vmap")
        avals = [core.get_aval(x) for x in leaves]
        dims = arguments.canonical_in_axes(dims, avals, labels, "vmap")
        size = arguments.mapped_size(avals, dims, labels, axis_size, "vmap")
        box = []

        def flat(*xs):
            a, k = tree_util.tree_unflatten(in_tree, xs)
            out = fun(*a, **k)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            # the types, not the traced values: nothing outlives the trace (check_tracer_leaks)
            box.append((out_tree, [core.get_aval(o) for o in out_leaves]))
            return out_leaves

        def out_dims():  # out_axes is a prefix of the output, known once traced
            out_tree, out_avals = box[0]
            dims = arguments.out_axes_per_leaf(out_spec.key, out_tree, "vmap")
            return [arguments.canonical_out_axis(d, a.ndim, i, "vmap")
                    for i, (d, a) in enumerate(zip(dims, out_avals))]
        outs = vmap_flat(flat, AxisFrame(axis_name, size, "vmap", spmd_axis_name=spmd_names),
                         leaves, dims, out_dims)
        return tree_util.tree_unflatten(box[0][0], outs)
    return vmapped


def _spmd_axis_names(spmd_axis_name) -> tuple | None:
    if spmd_axis_name is None:
        return None
    names = spmd_axis_name if isinstance(spmd_axis_name, tuple) else (spmd_axis_name,)
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"vmap's spmd_axis_name must be a mesh axis name or a non-empty tuple of "
                        f"them, got {spmd_axis_name!r}")
    return names


# ---------------------------------------------------------------- inspection
def make_jaxpr(fun: Callable, static_argnums=()):
    """`make_jaxpr(f)(*args)` returns the program `f` stages for those arguments (printable)."""
    arguments.check_callable(fun, "make_jaxpr")
    argnums = arguments.resolve_argnums(fun, "make_jaxpr", static_argnums=static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        split = arguments.split_static(args, kwargs, argnums.static_nums, argnums.static_names,
                                       "make_jaxpr", fun=fun)
        leaves, in_tree = tree_util.tree_flatten((split.dyn_args, split.dyn_kwargs))

        def flat(*xs):
            d, k = tree_util.tree_unflatten(in_tree, xs)
            full = arguments.merge_static(split.static, d, len(args))
            return tree_util.tree_leaves(fun(*full, **k, **dict(split.static_kw)))
        return trace_to_jaxpr(flat, [core.get_aval(x) for x in leaves])
    return make
