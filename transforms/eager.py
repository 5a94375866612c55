"""Eager execution: each primitive runs as a compiled one-op program, cached by the primitive,
its parameters and the input types, so eager and jit share the same lowering and numerics."""
from __future__ import annotations

import numpy as np

from spmd.transforms import (backend, caches, core, debug_checks, dtypes, lowering,
                              partitioned_jit, placement)
from spmd.transforms.array import Array
from spmd.transforms.core import Eqn, Jaxpr, Var

_executables = caches.LRUCache("eager one-op executables", compiled_only=True)


def to_buffer(x, device=None):
    """A device buffer for an operand of a program on `device` (None: the default device):
    Arrays as they are, moved through the host when they live elsewhere (a pmap result spread
    over several devices is gathered), host values transferred."""
    if type(x) is Array:
        x._check_alive()
        if x.is_multi_device:  # gathered through the host
            return backend.device_put(np.asarray(x), x.aval, device)
        if device is not None and backend.single_device_of(x._buf) != device:
            return backend.copy_to_device(x._buf, device)
        return x._buf
    aval = core.get_aval(x)
    if aval.dtype == dtypes.float0:  # no data: XLA takes bool zeros in its place
        return backend.device_put(np.zeros(aval.shape, np.bool_), aval.update(dtype=np.bool_),
                                  device)
    return backend.device_put(np.asarray(x, dtype=aval.dtype), aval, device)


def _params_key(params: dict):
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:
        raise TypeError(f"primitive parameters must be hashable, got {params!r}") from None


def one_op_jaxpr(prim, in_avals, params) -> Jaxpr:
    invars = [Var(a) for a in in_avals]
    outvars = [Var(a) for a in core.out_avals_of(prim, in_avals, params)]
    return Jaxpr([], invars, outvars, [Eqn(prim, invars, outvars, params)])


def apply(prim, args, params):
    avals = tuple(core.get_aval(x) for x in args)
    key = (prim, _params_key(params), avals)
    if any(partitioned_jit.is_partitioned(x) for x in args):  # stays on its mesh, as in JAX
        outs = partitioned_jit.apply_one_op(key, args,
                                            lambda: one_op_jaxpr(prim, avals, params), prim.name)
        return _checked(prim, outs)
    entry = _executables.get(key)
    if entry is None:
        jaxpr = one_op_jaxpr(prim, avals, params)
        callbacks: list = []  # Python called from a loop body (transforms/callbacks.py)
        text = lowering.lower_module(jaxpr, name=prim.name, host_callbacks=callbacks)
        exe = backend.compile(text, jaxpr.out_avals, [backend.default_device()],
                              host_callbacks=callbacks)
        entry = _executables[key] = (exe, jaxpr.out_avals, text, callbacks)
    exe, out_avals, text, callbacks = entry
    device = placement.device_for(args)
    if device != exe.devices[0]:  # an argument put on another device draws the op there
        exe = backend.compile(text, out_avals, [device], host_callbacks=callbacks)
    outs = [Array(b, a) for b, a in zip(exe([to_buffer(x, device) for x in args]), out_avals)]
    return _checked(prim, outs)


def _checked(prim, outs):
    if debug_checks.active:  # jax_debug_nans / jax_debug_infs
        debug_checks.check_outputs(prim.name, outs)
    return outs if prim.multiple_results else outs[0]


core.set_eager_executor(apply)
