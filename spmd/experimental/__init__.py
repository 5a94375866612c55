"""spmd.experimental (JAX's jax.experimental): older spellings kept for ported programs."""
