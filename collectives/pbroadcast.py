"""pbroadcast: every participant gets the value that axis index `source` holds (JAX's
lax.pbroadcast). JAX lowers it to StableHLO collective_broadcast on GPU only; here it is the
equivalent JAX documents, the source's value kept and the others zeroed, then summed over the
axes, so that it runs wherever psum does (pmap, shard_map, vmap with an axis name) and its
JVP, transpose and batching are psum's and select's."""
from __future__ import annotations

import numpy as np

from spmd.collectives.axes import axis_size, canonical_names, check_pure_names
from spmd.collectives.axis_index import axis_index
from spmd.collectives.psum import psum
from spmd.transforms import core, lax, tree_util


def pbroadcast(x, axis_name, source):
    """`x` (an array or pytree) as axis index `source` of `axis_name` holds it, on every
    participant. Over a tuple of names `source` is a linear index over them."""
    names = canonical_names(axis_name)
    check_pure_names(names, "pbroadcast")
    size = axis_size(names)
    if not (isinstance(source, (int, np.integer)) and 0 <= source < size):
        raise ValueError(f"pbroadcast: source={source!r} must be an int axis index in "
                         f"[0, {size}) for axis {names if len(names) > 1 else names[0]!r} of "
                         f"size {size}")
    return tree_util.tree_map(lambda leaf: _broadcast_leaf(leaf, names, int(source)), x)


def _broadcast_leaf(x, names, source):
    aval = core.get_aval(x)
    is_bool = aval.dtype == np.bool_
    if is_bool:  # psum adds numbers
        x = lax.convert_element_type(x, np.int32)
        aval = core.get_aval(x)
    mine = lax.eq(axis_index(names), np.int32(source))
    kept = lax.select(lax.broadcast_in_dim(mine, aval.shape, ()), x,
                      lax.full(aval.shape, 0, aval.dtype))
    out = psum(kept, names)
    return lax.ne(out, lax.full(aval.shape, 0, aval.dtype)) if is_bool else out
