"""spmd.experimental (JAX's jax.experimental): multihost_utils, and shard_map."""
