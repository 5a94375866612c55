"""jax.flatten_util: a pytree of arrays as one flat vector and back (optimizers over a flat
parameter vector, Hessian-vector products, ADVI over structured parameters)."""
import numpy as np

import spmd.numpy as jnp
from spmd.transforms import tree_util

__all__ = ["ravel_pytree"]


class _Unravel:
    """Splits a flat vector back into the pytree's leaves. Hashable by what it rebuilds (as
    JAX's), so it can be a static argument of jit."""

    def __init__(self, treedef, shapes, from_dtypes, to_dtype):
        self.treedef, self.shapes = treedef, shapes
        self.from_dtypes, self.to_dtype = from_dtypes, to_dtype
        self.sizes = tuple(int(np.prod(s, dtype=np.int64)) for s in shapes)

    def _key(self):
        return (self.treedef, self.shapes, self.from_dtypes, self.to_dtype)

    def __eq__(self, other):
        return isinstance(other, _Unravel) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __call__(self, flat):
        flat = jnp.asarray(flat)
        total = sum(self.sizes)
        if flat.shape != (total,):
            raise ValueError(f"the unravel function expects a 1-D array of {total} values "
                             f"(the raveled pytree's size), got shape {flat.shape}")
        if self.to_dtype is not None and flat.dtype != self.to_dtype:
            raise TypeError(f"unravel function given array of dtype {flat.dtype}, but expected "
                            f"dtype {self.to_dtype}")
        offsets = np.cumsum((0,) + self.sizes)
        leaves = [flat[start:stop].reshape(shape)
                  for start, stop, shape in zip(offsets[:-1], offsets[1:], self.shapes)]
        if self.to_dtype is not None:  # leaves of several dtypes: each gets its own back
            leaves = [leaf.astype(dtype) for leaf, dtype in zip(leaves, self.from_dtypes)]
        return tree_util.tree_unflatten(self.treedef, leaves)


def ravel_pytree(pytree):
    """(flat, unravel): the leaves raveled and concatenated in tree order into one 1-D array of
    their promoted dtype, and the function that rebuilds the pytree from such a vector. A pytree
    without leaves gives an empty float32 vector, as in JAX."""
    leaves, treedef = tree_util.tree_flatten(pytree)
    leaves = [jnp.asarray(leaf) for leaf in leaves]
    shapes = tuple(leaf.shape for leaf in leaves)
    from_dtypes = tuple(leaf.dtype for leaf in leaves)
    if not leaves:
        return jnp.zeros((0,), jnp.float32), _Unravel(treedef, (), (), None)
    to_dtype = jnp.result_type(*from_dtypes)
    flat = jnp.concatenate([leaf.astype(to_dtype).reshape(-1) for leaf in leaves])
    # One dtype throughout: unravel keeps whatever dtype it is given (JAX's convention).
    mixed = any(dtype != to_dtype for dtype in from_dtypes)
    return flat, _Unravel(treedef, shapes, from_dtypes, to_dtype if mixed else None)
