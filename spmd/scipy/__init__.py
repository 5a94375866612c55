"""spmd.scipy: the parts of jax.scipy that spmd offers."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.scipy import linalg, special, stats  # noqa: F401


__getattr__ = _module_getattr("spmd.scipy", "jax.scipy")
