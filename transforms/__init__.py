"""The tracer and transform stack: the IR, the traces (eval, staging, JVP, batching), the
primitives with their rules, the XLA backend, jit. Knows nothing of processes or clusters."""
from spmd.transforms import backend, core, dtypes, eager  # noqa: F401  (eager installs the executor)
from spmd.transforms import lax  # noqa: F401  (declares the primitives)
from spmd.transforms.api import grad, jvp, linearize, make_jaxpr, value_and_grad, vjp, vmap  # noqa: F401
from spmd.transforms.array import Array  # noqa: F401
from spmd.transforms.config import config  # noqa: F401
from spmd.transforms.jit import jit  # noqa: F401
