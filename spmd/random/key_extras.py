"""key_dtype and clone, JAX's two small key utilities."""
from __future__ import annotations

from spmd.random import impls
from spmd.random.keys import KEY_DTYPES


def key_dtype(impl_spec=None):
    """The element type of typed keys of an implementation (a name, a PRNGImpl, or None for
    the default), as `spmd.random.key(0, impl=impl_spec).dtype`."""
    return KEY_DTYPES[impls.resolve(impl_spec).name]


def clone(key):
    """The key itself. JAX's clone marks a key as reusable for its key-reuse checker, which spmd
    does not have, so outside that checker (as in JAX) it is the identity."""
    return key
