"""Jacobians and Hessians, as JAX builds them: `jacfwd` vmaps jvp over the standard basis of the
inputs (one column per input element), `jacrev` vmaps the vjp pullback over the standard basis
of the outputs (one row per output element), `hessian` is jacfwd of jacrev.

The result has the output's pytree structure on the outside and the differentiated arguments'
structure inside; each leaf has shape `out_leaf.shape + in_leaf.shape`.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.api import (argnums_tuple, check_input_dtype_revderiv,
                                 check_output_dtype_revderiv, jvp, partial_args, vjp, vmap)
from spmd.transforms.lax import reshape, slice_in_dim


def _std_basis(leaves) -> list[np.ndarray]:
    """One basis vector per element of the flattened leaves, stacked along a new leading axis:
    leaf i gets shape (N,) + leaf.shape, where N is the total number of elements."""
    avals = [core.get_aval(x) for x in leaves]
    total = sum(a.size for a in avals)
    eye = np.eye(total)
    basis, start = [], 0
    for a in avals:
        block = eye[:, start:start + a.size].reshape((total,) + a.shape)
        basis.append(block.astype(a.strip_weak().dtype))
        start += a.size
    return basis


def _split_axis(x, axis: int, avals: Sequence[core.ShapedArray], before: tuple, after: tuple):
    """Cut `x`'s flat `axis` into one block per aval, each reshaped to
    `before + aval.shape + after` (before/after: the shapes of x's other axes)."""
    blocks, start = [], 0
    for a in avals:
        block = x if len(avals) == 1 else _slice_axis(x, axis, start, start + a.size)
        blocks.append(reshape(block, before + a.shape + after))
        start += a.size
    return blocks


def _slice_axis(x, axis, start, stop):
    return slice_in_dim(x, start, stop, axis=axis)


def _check_input_dtype_jacfwd(holomorphic: bool, x):
    dtype = core.get_aval(x).dtype
    if holomorphic:
        if not dtypes.is_complex(dtype):
            raise TypeError(f"jacfwd with holomorphic=True requires inputs with complex dtype, "
                            f"but got {dtype}.")
    elif not dtypes.is_float(dtype):
        raise TypeError(f"jacfwd requires real-valued inputs (input dtype that is a sub-dtype of "
                        f"np.floating), but got {dtype}. For holomorphic differentiation, pass "
                        "holomorphic=True. For differentiation of non-holomorphic functions "
                        "involving complex inputs or integer inputs, use spmd.jvp directly.")


def _nest(out_tree, in_tree, blocks):
    """blocks[o][i] (output leaf o, input leaf i) as the output structure of input structures."""
    return tree_util.tree_unflatten(out_tree,
                                    [tree_util.tree_unflatten(in_tree, row) for row in blocks])


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian of `fun` with respect to the `argnums` arguments, by forward mode: one jvp
    per input element, all at once under vmap. Efficient for "tall" Jacobians."""
    @functools.wraps(fun)
    def jacfun(*args, **kwargs):
        nums = argnums_tuple(argnums, len(args))
        dyn = tuple(args[i] for i in nums)
        dyn_leaves, dyn_tree = tree_util.tree_flatten(dyn)
        for x in dyn_leaves:
            _check_input_dtype_jacfwd(holomorphic, x)
        f_partial = partial_args(fun, args, kwargs, nums)

        def pushforward(basis_leaves):
            return jvp(f_partial, dyn, tree_util.tree_unflatten(dyn_tree, basis_leaves),
                       has_aux=has_aux)
        out_axes = (None, -1, None) if has_aux else (None, -1)
        out = vmap(pushforward, out_axes=out_axes)(_std_basis(dyn_leaves))
        y, tangents = out[0], out[1]
        y_leaves, y_tree = tree_util.tree_flatten(y)
        in_avals = [core.get_aval(x) for x in dyn_leaves]
        blocks = [_split_axis(t, -1, in_avals, core.get_aval(o).shape, ())
                  for o, t in zip(y_leaves, tree_util.tree_leaves(tangents))]
        jac = _nest(y_tree, tree_util.treedef_children(dyn_tree)[0]
                    if isinstance(argnums, int) else dyn_tree, blocks)
        return (jac, out[2]) if has_aux else jac
    return jacfun


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """The Jacobian of `fun` with respect to the `argnums` arguments, by reverse mode: one vjp
    per output element, all at once under vmap. Efficient for "wide" Jacobians."""
    @functools.wraps(fun)
    def jacfun(*args, **kwargs):
        nums = argnums_tuple(argnums, len(args))
        dyn = tuple(args[i] for i in nums)
        dyn_leaves, dyn_tree = tree_util.tree_flatten(dyn)
        for x in dyn_leaves:
            check_input_dtype_revderiv("jacrev", holomorphic, allow_int, x)
        out = vjp(partial_args(fun, args, kwargs, nums), *dyn, has_aux=has_aux)
        y, pullback = out[0], out[1]
        y_leaves, y_tree = tree_util.tree_flatten(y)
        for o in y_leaves:
            check_output_dtype_revderiv("jacrev", holomorphic, o)

        def pull(basis_leaves):
            return pullback(tree_util.tree_unflatten(y_tree, basis_leaves))
        cts = tree_util.tree_leaves(vmap(pull)(_std_basis(y_leaves)))
        out_avals = [core.get_aval(o) for o in y_leaves]
        # per input leaf: (M,) + in.shape, cut along M into one block per output leaf
        per_input = [_split_axis(ct, 0, out_avals, (), core.get_aval(x).shape)
                     for ct, x in zip(cts, dyn_leaves)]
        blocks = [[per_input[i][o] for i in range(len(dyn_leaves))] for o in range(len(y_leaves))]
        jac = _nest(y_tree, tree_util.treedef_children(dyn_tree)[0]
                    if isinstance(argnums, int) else dyn_tree, blocks)
        return (jac, out[2]) if has_aux else jac
    return jacfun


jacobian = jacrev


def hessian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Hessian of a scalar function: forward-over-reverse, jacfwd(jacrev(fun))."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
