"""spmd.scipy: the parts of jax.scipy that spmd offers."""
from spmd.scipy import special, stats  # noqa: F401
