"""spmd.experimental (JAX's jax.experimental): older spellings kept for ported programs
(shard_map) and multihost_utils."""
