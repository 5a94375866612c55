"""`spmd.errors`, as `jax.errors`: the classes of the errors spmd raises while tracing, under
JAX's names, for programs that catch them."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.errors import (ConcretizationTypeError, JAXTypeError,  # noqa: F401
                                    TracerArrayConversionError, TracerBoolConversionError,
                                    UnexpectedTracerError)

for _cls in (ConcretizationTypeError, JAXTypeError, TracerArrayConversionError,
             TracerBoolConversionError, UnexpectedTracerError):
    _cls.__module__ = __name__  # tracebacks show spmd.errors.X, not the internal module
del _cls

__getattr__ = _module_getattr("spmd.errors", "jax.errors")
