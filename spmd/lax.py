"""spmd.lax: JAX's `jax.lax`, re-exported from the transforms layer (each name is declared with
its rules in transforms/)."""
from spmd.transforms.lax import *  # noqa: F401,F403
from spmd.transforms.stop_gradient import stop_gradient  # noqa: F401
from spmd.collectives import (all_gather, all_to_all, axis_index, axis_size, pmax,  # noqa: F401
                              pmean, pmin, ppermute, pshuffle, pswapaxes, psum, psum_scatter)
