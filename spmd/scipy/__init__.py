"""spmd.scipy: the parts of jax.scipy that spmd offers."""
from spmd.scipy import linalg, special, stats  # noqa: F401
