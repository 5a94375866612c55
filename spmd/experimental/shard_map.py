"""spmd.experimental.shard_map (JAX's jax.experimental.shard_map, deprecated there in favour of
jax.shard_map): `shard_map(f, mesh, in_specs, out_specs, check_rep=True)`."""
from spmd.shard_map import shard_map as _shard_map


def shard_map(f, mesh, in_specs, out_specs, check_rep: bool = True):
    """`spmd.shard_map` with JAX's older signature: `check_rep` is `check_vma`; manual over
    every axis of `mesh`."""
    return _shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                      axis_names=frozenset(), check_vma=check_rep)
