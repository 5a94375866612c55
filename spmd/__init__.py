"""spmd: a distributed SPMD runtime centred on pmap, in the model of JAX.

`import spmd as jax; import spmd.numpy as jnp` ports the core of a JAX program."""
from transforms import tree_util  # noqa: F401
from transforms.api import (grad, jvp, linearize, make_jaxpr, value_and_grad, vjp,  # noqa: F401
                            vmap)
from transforms.array import Array  # noqa: F401
from transforms.config import config  # noqa: F401
from transforms.jit import jit  # noqa: F401

import transforms as _transforms  # noqa: F401  (declares primitives, installs the executor)
from spmd import numpy  # noqa: F401  (installs the array operators)

__version__ = "0.1.0"
