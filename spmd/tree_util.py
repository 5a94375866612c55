"""`spmd.tree_util`, as `jax.tree_util`: flatten, map and rebuild nested containers (pytrees).
Declared in the transforms layer, which keys its caches on tree structures."""
from spmd.transforms.tree_util import *  # noqa: F401,F403
