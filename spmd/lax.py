"""spmd.lax: JAX's `jax.lax`, re-exported from the transforms layer (each name is declared with
its rules in transforms/)."""
from spmd.transforms.lax import *  # noqa: F401,F403
from spmd.transforms.stop_gradient import stop_gradient  # noqa: F401
from spmd.transforms.lax.dot import Precision  # noqa: F401
from spmd.collectives import (all_gather, all_to_all, axis_index, pmax, pmean, pmin,  # noqa: F401
                              ppermute, pshuffle, psum, psum_scatter)


from spmd.missing_names import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("spmd.lax", "jax.lax")
