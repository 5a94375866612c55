"""The algorithm choices jax.lax.linalg's eig, eigh and svd take, under JAX's names and values.
On CPU only LAPACK's choices apply; the decompositions refuse the others, as JAX does."""
import enum


class EigImplementation(enum.Enum):
    """Which library computes eig: only LAPACK on CPU."""
    CUSOLVER = "cusolver"
    MAGMA = "magma"
    LAPACK = "lapack"


class EighImplementation(enum.Enum):
    """Which algorithm computes eigh: QR (LAPACK's syevd/heevd) on CPU."""
    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


class SvdAlgorithm(enum.Enum):
    """Which algorithm computes svd: divide and conquer (gesdd, the default) or QR (gesvd) on
    CPU."""
    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"
    DIVIDE_AND_CONQUER = "divide_and_conquer"
