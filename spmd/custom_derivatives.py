"""`spmd.custom_derivatives`, as `jax.custom_derivatives`: functions with their own
differentiation rules (the same objects as `spmd.custom_jvp`, `spmd.custom_vjp`,
`spmd.custom_gradient`, `spmd.closure_convert`)."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.closure_rules import closure_convert, custom_gradient
from spmd.transforms.custom_derivatives import custom_jvp, custom_vjp

__all__ = ["closure_convert", "custom_gradient", "custom_jvp", "custom_vjp"]

__getattr__ = _module_getattr("spmd.custom_derivatives", "jax.custom_derivatives")
