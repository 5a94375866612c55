"""spmd.example_libraries: jax.example_libraries, the small libraries JAX's example programs are
written on (`stax` for layers, `optimizers` for the update rules), with JAX 0.10.2's API, so that
those programs run unchanged after `import spmd as jax`."""
