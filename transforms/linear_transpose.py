"""jax.linear_transpose: the transpose of a function promised to be linear, as a function of
the output cotangent."""
from __future__ import annotations

from typing import Callable

import numpy as np

from spmd.transforms import tree_util
from spmd.transforms.api import vjp
from spmd.transforms.shapes import eval_shape


def linear_transpose(fun: Callable, *primals, reduce_axes=()) -> Callable:
    """`fun` is linear in its arguments, whose shapes and dtypes `primals` give (arrays or
    ShapeDtypeStructs). Returns `f_t(cotangent) -> tuple of cotangents, one per primal`. A
    linear function's VJP is the same at every point: it is taken once, at zeros."""
    if reduce_axes:
        raise NotImplementedError("reduce_axes argument to transpose is deprecated")
    in_leaves, in_tree = tree_util.tree_flatten(primals)
    out_shapes = eval_shape(fun, *primals)
    out_leaves, out_tree = tree_util.tree_flatten(out_shapes)
    in_dtypes = [np.dtype(x.dtype) for x in in_leaves]
    out_dtypes = [np.dtype(x.dtype) for x in out_leaves]
    everything = in_dtypes + out_dtypes
    if all(np.issubdtype(d, np.integer) for d in everything):
        raise NotImplementedError("spmd's linear_transpose supports float or complex functions "
                                  "only; convert the integer values to a float type first")
    if not all(np.issubdtype(d, np.inexact) for d in everything):
        raise TypeError("linear_transpose only supports [float or complex] -> "
                        "[float or complex], and integer -> integer functions, "
                        f"but got {in_dtypes} -> {out_dtypes}.")
    zeros = tree_util.tree_unflatten(in_tree, [np.zeros(x.shape, x.dtype) for x in in_leaves])
    _, fun_vjp = vjp(fun, *zeros)

    def transposed(out_cotangent):
        cts, tree = tree_util.tree_flatten(out_cotangent)
        if tree != out_tree:
            raise TypeError("cotangent tree does not match function output, "
                            f"expected {out_tree} but got {tree}")
        found = [(tuple(np.shape(c)), np.dtype(getattr(c, "dtype", np.result_type(c))))
                 for c in cts]
        wanted = [(tuple(o.shape), np.dtype(o.dtype)) for o in out_leaves]
        if found != wanted:
            raise TypeError("cotangent type does not match function output, "
                            f"expected {wanted} but got {found}")
        return fun_vjp(out_cotangent)
    return transposed
