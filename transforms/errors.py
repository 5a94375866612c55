"""JAX's error classes (jax.errors) for the mistakes spmd detects while tracing, so that a
ported program's `except jax.errors.ConcretizationTypeError` catches what it caught in JAX.
The base classes subclass TypeError, as JAX's do."""


class JAXTypeError(TypeError):
    """The base of the tracing errors below."""


class ConcretizationTypeError(JAXTypeError):
    """A traced value was used where a concrete (known while tracing) value is needed."""


class TracerBoolConversionError(ConcretizationTypeError):
    """A traced value was converted to a Python bool (`if x:`, `while x:`, `and`/`or`)."""


class TracerArrayConversionError(JAXTypeError):
    """A traced value was converted to a NumPy array (`np.asarray(x)` inside jit)."""


class UnexpectedTracerError(JAXTypeError):
    """A traced value leaked out of the transform that made it (stored in a global or a
    closure) and was used after that transform ended."""
