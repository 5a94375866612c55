"""`spmd.tree_util`, as `jax.tree_util`: flatten, map and rebuild nested containers (pytrees).
Declared in the transforms layer, which keys its caches on tree structures."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.tree_util import *  # noqa: F401,F403


__getattr__ = _module_getattr("spmd.tree_util", "jax.tree_util")
