"""pcast: change how a value varies along named axes, without moving data (JAX's lax.pcast).

JAX's `pcast(x, axis_name, to='varying')` (the former `pvary`) marks a value that is the same
on every device along the axes as one that may differ: inside shard_map with check_vma, the
value may then meet values split over those axes. spmd works out what varies from the body
after tracing (spmd/shard_map_vma.py), so `pvary_p` is the identity on values; the replication
check reads its axes, and refuses a value that already varies along them, as JAX does.

Its transpose is the identity: spmd's shard_map follows JAX's check_vma=False rules, where the
cotangent of an argument replicated over an axis is summed over that axis by the shard_map's
own transpose (JAX, with check_vma, sums it at the pvary instead; the gradient is the same).
`to='reduced'` and `'unreduced'` need JAX's reduced/unreduced array types, which spmd lacks.
"""
from __future__ import annotations

from spmd.collectives.axes import axis_size, canonical_names, check_pure_names
from spmd.transforms import batching, tree_util
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import deftranspose_linear

pvary_p = Primitive("pvary")

_ALLOWED_TO = ("varying", "reduced", "unreduced")


def pcast(x, axis_name, *, to: str):
    """`x` (an array or pytree) cast to vary along `axis_name` (a name or tuple of names).
    Only `to='varying'` is supported; the values are unchanged."""
    if isinstance(axis_name, (set, frozenset)):
        raise TypeError(f"pcast: axis_name={axis_name!r} must be a tuple or a str, not a "
                        f"{type(axis_name).__name__}")
    if not axis_name:
        return x
    if to not in _ALLOWED_TO:
        raise ValueError(f"pcast: got to={to!r}; the allowed values are {_ALLOWED_TO}")
    if to != "varying":
        raise NotImplementedError(
            f"pcast(..., to={to!r}) is not supported: spmd has no reduced/unreduced array types; "
            "only to='varying' is")
    names = canonical_names(axis_name)
    check_pure_names(names, "pcast")
    axis_size(names)  # raises the "unbound axis name" error outside shard_map/pmap/vmap
    return tree_util.tree_map(lambda leaf: pvary_p.bind(leaf, axes=names), x)


def _pvary_batch(frame, args, dims, *, axes):
    (x,), (d,) = args, dims
    rest = tuple(a for a in axes if a != frame.name)  # along the vmap's own axis: per element
    return (pvary_p.bind(x, axes=rest) if rest else x), d


pvary_p.def_abstract_eval(lambda x, *, axes: x)
lowering_rules[pvary_p] = lambda ctx, x, *, axes: x
deflinear(pvary_p)
deftranspose_linear(pvary_p, lambda ct, x, *, axes: ct)
batching_rules[pvary_p] = _pvary_batch
batching.axis_primitives[pvary_p] = lambda params: params["axes"]
