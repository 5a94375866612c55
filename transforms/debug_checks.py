"""JAX's `jax_debug_nans` / `jax_debug_infs`: with either on, every primitive run eagerly has its
floating outputs checked, and a NaN (Inf) raises FloatingPointError naming the primitive. A
jitted function's outputs are checked after its compiled program runs; when one is bad, the
function runs again op by op (jit disabled) so that the error names the primitive that made the
value, as JAX's "de-optimized" rerun does. Off (the default), nothing is checked: the eager and
jit paths read one module global."""
from __future__ import annotations

import threading

import numpy as np

from spmd.transforms import dtypes, tree_util
from spmd.transforms.config import config

active = False  # either check on: read on every eager op and jit call, so a module global


def _update(_value=None):
    global active
    active = bool(config.debug_nans or config.debug_infs)


config.on_change("debug_nans", _update)
config.on_change("debug_infs", _update)
_update()


def _special_kind(value):
    """'nan' or 'inf' where a checked kind of special value is in `value`, else None."""
    dtype = np.dtype(value.dtype)
    if not (dtypes.issubdtype(dtype, np.inexact)):
        return None
    host = np.asarray(value)
    if dtype == dtypes.bfloat16 or dtype.itemsize < 4:
        host = host.astype(np.float32)
    if config.debug_nans and np.isnan(host).any():
        return "nan"
    if config.debug_infs and np.isinf(host).any():
        return "inf"
    return None


def check_outputs(name: str, outs):
    """Raises FloatingPointError when an output of `name` holds a checked special value."""
    for out in outs:
        kind = _special_kind(out)
        if kind is not None:
            raise FloatingPointError(f"invalid value ({kind}) encountered in {name}")


_rerun = threading.local()  # set while a jitted call runs unchecked inside its own check


def in_check() -> bool:
    return getattr(_rerun, "depth", 0) > 0


def checked_jit_call(jitted, fun, name, args, kwargs, disable_jit):
    """Calls `jitted` and checks its outputs; a bad output makes `fun` run again op by op under
    `disable_jit()`, where the eager check names the primitive. When the rerun finds nothing
    (XLA's optimizations made the value, or it was a literal), the error says so."""
    _rerun.depth = getattr(_rerun, "depth", 0) + 1
    try:
        out = jitted(*args, **kwargs)
    finally:
        _rerun.depth -= 1
    kind = next((k for k in map(_special_kind, tree_util.tree_leaves(out)) if k), None)
    if kind is None:
        return out
    with disable_jit():
        fun(*args, **kwargs)  # raises at the first primitive that makes the special value
    raise FloatingPointError(
        f"invalid value ({kind}) encountered in jit({name}). Because jax_debug_nans and/or "
        "jax_debug_infs is set, the function was run again op by op (as without jit) to find "
        "the primitive that made it, but that run produced no invalid value: XLA's "
        "optimizations of the jitted program may have made it, or it is a nan/inf literal "
        "among the inputs or outputs. Removing the jit decorator avoids it, at the cost of "
        "speed.")
