"""Random operands of any dtype for the lax tests: small integers for integer types (exact
products), standard normals otherwise, with random imaginary parts for complex types."""
import numpy as np


def draw(rng, shape, dtype=np.float32):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-3, 4, shape).astype(dtype)
    x = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)
