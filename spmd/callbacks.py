"""`spmd.pure_callback`, as `jax.pure_callback`: a pure Python function of arrays called from
inside programs (jit, vmap, pmap, loop bodies), its results typed by `result_shape_dtypes`.
The primitive and its transforms are in transforms/callbacks.py."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from spmd.transforms import callbacks as _cb
from spmd.transforms import tree_util
from spmd.transforms.core import ShapedArray


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding=None, vmap_method: str | None = None, **kwargs: Any):
    """`callback(*args, **kwargs)` on NumPy values, returning a pytree shaped like
    `result_shape_dtypes` (anything with .shape and .dtype: ShapeDtypeStruct, arrays). It must
    be pure: it may run more or fewer times than written, or not at all if its results are
    unused. `vmap_method` says how vmap runs it: "sequential" (a loop of calls),
    "sequential_unrolled", "expand_dims" (one call, unmapped arguments given a leading axis of
    1), "broadcast_all" (one call, every argument with the full leading axis),
    "legacy_vectorized" (one call, unmapped arguments as they are); None: vmap raises."""
    if vmap_method not in _cb.VMAP_METHODS:
        raise ValueError(f"vmap_method must be on of the allowed methods "
                         f"{list(_cb.VMAP_METHODS)}, but got: {vmap_method}")
    if sharding is not None:
        raise NotImplementedError("pure_callback(sharding=...) is not supported: spmd has no "
                                  "shardings (the callback runs on each device's values); "
                                  "leave sharding out")
    flat_args, in_tree = tree_util.tree_flatten((args, kwargs))
    result_avals, out_tree = tree_util.tree_flatten(
        tree_util.tree_map(_result_aval, result_shape_dtypes))
    _cb.check_result_types(result_avals)

    def flat_callback(*flat):
        call_args, call_kwargs = tree_util.tree_unflatten(in_tree, flat)
        return tree_util.tree_leaves(callback(*call_args, **call_kwargs))
    outs = _cb.pure_callback_p.bind(*flat_args, callback=_cb.Callback(flat_callback),
                                    result_avals=tuple(result_avals), vmap_method=vmap_method)
    return tree_util.tree_unflatten(out_tree, outs)


def _result_aval(x) -> ShapedArray:
    try:
        return ShapedArray(tuple(x.shape), np.dtype(x.dtype))
    except AttributeError:
        raise TypeError(f"pure_callback: result_shape_dtypes must be a pytree of values with "
                        f".shape and .dtype (spmd.ShapeDtypeStruct, arrays), got "
                        f"{type(x).__name__}: {x!r:.60}") from None
