"""Python called from inside programs, as JAX's host callbacks: `pure_callback` (a function of
its operands whose results the program uses) and `debug_callback` (called for its effect, no
results; `debug.print` is one).

Eagerly the Python runs at once on NumPy values. Compiled (jit, pmap, a loop body) it is a
zero-copy host callback of XLA's CPU runtime (`write_host_callback`): the program hands it
its operand buffers and the buffers to fill, and the program is compiled with the Python
function (lowering.ModuleContext.host_callbacks). Each callback site carries a serial number in
the program text, so two programs that differ only in their Python functions never share a
compiled executable.

Transforms, as JAX: vmap of a debug callback calls it once per element; of a pure callback
as `vmap_method` says (a loop, or one call on the stacked values); grad of a debug callback
calls it on the primal values; grad of a pure callback is JAX's error (use custom_jvp).
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.array import make_array
from spmd.transforms.batching import batching_rules, broadcast_batch, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import jvp_rules
from spmd.transforms.lax.control_flow import map as loop_map
from spmd.transforms.lax.slicing import concatenate, index_in_dim
from spmd.transforms.lowering import lowering_rules

_serials = itertools.count()


class Callback:
    """A flat Python function (NumPy arrays in, a sequence of results out) as a primitive
    param: hashable by identity, with a serial number that names its site in program text."""
    __slots__ = ("fun", "serial")

    def __init__(self, fun: Callable):
        self.fun, self.serial = fun, next(_serials)

    def __repr__(self):
        return f"Callback({getattr(self.fun, '__name__', 'callback')} #{self.serial})"


def write_host_callback(ctx, fn: Callable, operands: Sequence[str], operand_avals,
                        out_avals, attribute: str, has_side_effect: bool = True):
    """A zero-copy host callback `fn(ctx, *inputs, *outputs)` (jaxlib's
    xla_buffer_python_cpu_callback, handed XLA's own buffers; it fills the outputs);
    `attribute` (`name = "value"`) marks it in the program text. Returns the result names."""
    module = ctx.module
    index = len(module.host_callbacks)
    module.host_callbacks.append(fn)
    side_effect = "true" if has_side_effect else "false"
    return ctx.op(
        "stablehlo.custom_call", list(operands), out_avals=list(out_avals),
        operand_avals=list(operand_avals),
        attrs=('api_version = 4 : i32, call_target_name = "xla_buffer_python_cpu_callback",'
               f' has_side_effect = {side_effect}, backend_config = {{index = {index} : ui64}},'
               f' mhlo.frontend_attributes = {{{attribute}}}'))


def _results(callback: Callback, args, result_avals) -> list[np.ndarray]:
    """Run the Python on host values; its results checked against the declared types."""
    outs = callback.fun(*args)
    if len(outs) != len(result_avals):
        raise RuntimeError(f"Mismatched number of outputs from callback. Expected: "
                           f"{len(result_avals)}, Actual: {len(outs)}")
    checked = []
    for i, (out, aval) in enumerate(zip(outs, result_avals)):
        out = np.asarray(out)
        if out.shape != aval.shape:
            raise RuntimeError(f"Incorrect output shape for return value #{i}: Expected "
                               f"{aval.shape}, got {out.shape}.")
        if out.dtype != aval.dtype:
            raise RuntimeError(f"Incorrect output dtype for return value #{i}: Expected "
                               f"{aval.dtype}, got {out.dtype}.")
        checked.append(out)
    return checked


def _host_fn(callback: Callback, result_avals, n_in: int) -> Callable:
    """The function XLA calls: copies of the operands in (their buffers die with the call),
    the results written into XLA's output buffers."""
    def host(_ctx, *buffers):
        args = [np.asarray(b).copy() for b in buffers[:n_in]]
        for out, value in zip(buffers[n_in:], _results(callback, args, result_avals)):
            np.copyto(np.asarray(out), value)
        return ()
    return host


def _lower(ctx, *args, callback, result_avals, has_side_effect):
    outs = write_host_callback(ctx, _host_fn(callback, result_avals, len(args)), args,
                               ctx.in_avals, result_avals,
                               f'spmd_callback = "{callback.serial}"', has_side_effect)
    if not result_avals:
        return []
    return outs if len(result_avals) > 1 else [outs]


# ---------------------------------------------------------------- pure_callback
pure_callback_p = Primitive("pure_callback", multiple_results=True)
pure_callback_p.def_abstract_eval(lambda *avals, callback, result_avals, vmap_method:
                                  list(result_avals))

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized", None)


def _pure_impl(*args, callback, result_avals, vmap_method):
    outs = _results(callback, [np.asarray(a) for a in args], result_avals)
    return [make_array(o) for o in outs]


core.impl_rules[pure_callback_p] = _pure_impl
lowering_rules[pure_callback_p] = lambda ctx, *args, callback, result_avals, vmap_method: _lower(
    ctx, *args, callback=callback, result_avals=result_avals, has_side_effect=False)


def _pure_jvp(primals, tangents, **params):
    raise ValueError("Pure callbacks do not support JVP. Please use `jax.custom_jvp` to use "
                     "callbacks while taking gradients.")


jvp_rules[pure_callback_p] = _pure_jvp


def _pure_batch(axis, args, dims, *, callback, result_avals, vmap_method):
    size = axis.size
    args = [x if d is None else moveaxis(x, d, 0) for x, d in zip(args, dims)]
    stacked = tuple(a.update(shape=(size,) + a.shape) for a in result_avals)
    params = dict(callback=callback, vmap_method=vmap_method)
    if vmap_method in ("sequential", "sequential_unrolled"):
        batched = [d is not None for d in dims]

        def one(xs):
            it = iter(xs)
            return pure_callback_p.bind(*[next(it) if b else x for x, b in zip(args, batched)],
                                        result_avals=result_avals, **params)
        xs = [x for x, b in zip(args, batched) if b]
        if vmap_method == "sequential":
            outs = loop_map(one, xs)
        else:
            rows = [one([index_in_dim(x, i, 0, keepdims=False) for x in xs])
                    for i in range(size)]
            outs = [_stack([r[k] for r in rows]) for k in range(len(result_avals))]
    elif vmap_method in ("expand_dims", "broadcast_all"):
        n = size if vmap_method == "broadcast_all" else 1
        args = [broadcast_batch(x, n, 0) if d is None else x for x, d in zip(args, dims)]
        outs = pure_callback_p.bind(*args, result_avals=stacked, **params)
    elif vmap_method == "legacy_vectorized":
        outs = pure_callback_p.bind(*args, result_avals=stacked, **params)
    else:
        raise NotImplementedError(
            "vmap is only supported for the pure_callback primitive when vmap_method is one of "
            "'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
            "'legacy_vectorized': pass vmap_method= to pure_callback")
    return list(outs), [0] * len(result_avals)


batching_rules[pure_callback_p] = _pure_batch


def _stack(rows):
    return concatenate([broadcast_batch(r, 1, 0) for r in rows], 0)


# ---------------------------------------------------------------- debug_callback
debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.has_effects = True  # no results, kept in programs for its effect
debug_callback_p.def_abstract_eval(lambda *avals, callback, ordered: [])


def _debug_impl(*args, callback, ordered):
    callback.fun(*[np.asarray(a) for a in args])
    return []


core.impl_rules[debug_callback_p] = _debug_impl


def _debug_lower(ctx, *args, callback, ordered):
    def host(_ctx, *buffers):
        callback.fun(*[np.asarray(b).copy() for b in buffers[:len(args)]])
        return ()
    operands, avals = list(args), list(ctx.in_avals)
    module = ctx.module
    # Ordered calls of the top-level block form a chain of their own (the MPI all-reduces'
    # chain, ModuleContext.ordered_token, must start at the call-order check): each takes the
    # previous one's dummy result, so XLA runs them in program order.
    chained = ordered and not ctx.nested
    previous = getattr(module, "ordered_callback_token", None) if chained else None
    if previous is not None:
        operands.append(previous)
        avals.append(_TOKEN)
    out = write_host_callback(ctx, host, operands, avals, [_TOKEN] if chained else [],
                              f'spmd_callback = "{callback.serial}"')
    if chained:
        module.ordered_callback_token = out
    return []


_TOKEN = ShapedArray((), np.dtype(np.uint8))  # a dummy result that orders the next call
lowering_rules[debug_callback_p] = _debug_lower


def _debug_jvp(primals, tangents, *, callback, ordered):
    """Called on the primal values; nothing to differentiate."""
    return debug_callback_p.bind(*primals, callback=callback, ordered=ordered), []


jvp_rules[debug_callback_p] = _debug_jvp


def _debug_batch(axis, args, dims, *, callback, ordered):
    """Once per element of the mapped axis, as JAX."""
    for i in range(axis.size):
        debug_callback_p.bind(*[x if d is None else index_in_dim(x, i, d, keepdims=False)
                                for x, d in zip(args, dims)], callback=callback, ordered=ordered)
    return [], []


batching_rules[debug_callback_p] = _debug_batch


def check_result_types(result_shape_dtypes) -> None:
    """64-bit result types need x64, as in JAX."""
    for aval in result_shape_dtypes:
        if dtypes.canonicalize(aval.dtype) != aval.dtype:
            raise ValueError("result_shape_dtypes cannot specify 64-bit types when "
                             "`jax_enable_x64` is disabled")
