"""spmd.lax.linalg: JAX's `jax.lax.linalg`, the matrix decompositions over batches of matrices
[..., m, n] with their primitives, re-exported from the transforms layer where each is declared
with its rules (transforms/lax/linalg.py, linalg_condensed.py, linalg_banded.py,
linalg_updates.py); qdwh, the polar decomposition, is lax code on them (spmd/lax/_qdwh.py)."""
from spmd.lax._qdwh import qdwh  # noqa: F401
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.lax.linalg import (cholesky, cholesky_p, eig, eig_p, eigh,  # noqa: F401
                                        eigh_p, householder_product, householder_product_p, lu,
                                        lu_p, lu_pivots_to_permutation,
                                        lu_pivots_to_permutation_p, qr, qr_p, svd, svd_p,
                                        triangular_solve, triangular_solve_p)
from spmd.transforms.lax.linalg_banded import (symmetric_product,  # noqa: F401
                                               symmetric_product_p, tridiagonal_solve,
                                               tridiagonal_solve_p)
from spmd.transforms.lax.linalg_condensed import (hessenberg, hessenberg_p, schur,  # noqa: F401
                                                  schur_p, tridiagonal, tridiagonal_p)
from spmd.transforms.lax.linalg_updates import (cholesky_update,  # noqa: F401
                                                cholesky_update_p, ormqr, ormqr_p)
from spmd.transforms.lax.linalg_options import (EighImplementation,  # noqa: F401
                                                EigImplementation, SvdAlgorithm)

__getattr__ = _module_getattr("spmd.lax.linalg", "jax.lax.linalg")
