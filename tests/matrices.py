"""Random test matrices for the linear-algebra and FFT tests: reproducible draws of any dtype
(complex ones with random imaginary parts), Hermitian and positive-definite batches."""
import numpy as np


def draw(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def mH(x):
    """The conjugate transpose of a batch of matrices."""
    return np.conj(np.swapaxes(x, -1, -2))


def hermitian(n, dtype, batch=(), seed=0):
    x = draw(batch + (n, n), dtype, seed)
    return (x + mH(x)) / 2


def positive_definite(n, dtype, batch=(), seed=0):
    x = draw(batch + (n, n), dtype, seed)
    return (x @ mH(x) + n * np.eye(n)).astype(dtype)
