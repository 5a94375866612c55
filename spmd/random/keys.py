"""PRNG keys: JAX's two representations and the check that turns whatever a user passes as a
key into key data and its implementation (spmd/random/impls.py).

A key's data is a uint32 array whose trailing axes are its implementation's key shape ((2,) for
Threefry-2x32, JAX's default; (4,) for rbg, (1,) or (2,) for Philox).
- `PRNGKey(seed)` returns that data itself: JAX's legacy raw key, read with the default
  implementation wherever it is used.
- `key(seed)` returns a `PRNGKeyArray`: the same data behind a typed wrapper that names its
  implementation and whose shape leaves out the key shape (a single key has shape ()), as JAX's
  typed keys `key<fry>` do. It is a pytree whose one leaf is the data (the implementation rides
  in the tree structure), so it passes through jit, vmap and pmap. The difference from JAX: its
  dtype is a plain marker object (`spmd.random.KEY_DTYPE` for Threefry), not a NumPy extended
  dtype (its `.type` is `jax.dtypes.prng_key`, so `jnp.issubdtype(k.dtype, jax.dtypes.prng_key)`
  holds as in JAX); arithmetic on it is refused, and `key_data` / `wrap_key_data` convert
  between the two forms.
"""
from __future__ import annotations

import warnings

import numpy as np

from spmd.numpy._core import is_array_like
from spmd.random import impls
from spmd.random.impls import PRNGImpl
from spmd.random.seeds import UINT32
from spmd.transforms import core, dtypes, lax, tree_util
from spmd.transforms.array import Array
from spmd.transforms.config import config
from spmd.transforms.core import Tracer
from spmd.transforms.custom_derivatives import register_float0_tangent_type
from spmd.transforms.lax.slicing import index_in_dim


class KeyDtype:
    """The element type of typed keys of one implementation (`key<fry>` in JAX)."""
    __slots__ = ("impl",)

    def __init__(self, impl: PRNGImpl):
        self.impl = impl

    name = property(lambda self: f"key<{self.impl.tag}>")
    type = dtypes.prng_key  # its scalar kind: issubdtype(key.dtype, jax.dtypes.prng_key)

    def __eq__(self, other):
        return isinstance(other, KeyDtype) and other.impl == self.impl

    def __hash__(self):
        return hash(self.impl.name)

    def __repr__(self):
        return self.name

    __str__ = __repr__


KEY_DTYPES = {name: KeyDtype(impl) for name, impl in impls.prngs.items()}
KEY_DTYPE = KEY_DTYPES["threefry2x32"]


class PRNGKeyArray:
    """An array of typed keys (what `key` and `split` of a typed key return). Its shape is the
    key data's shape without the trailing key shape of its implementation."""
    __slots__ = ("_data", "_impl")
    __array_priority__ = 100

    def __init__(self, data, impl: PRNGImpl = impls.prngs["threefry2x32"]):
        self._data, self._impl = data, impl

    def _wrap(self, data):
        return PRNGKeyArray(data, self._impl)

    shape = property(lambda self: tuple(self._data.shape[:self._data.ndim
                                                          - len(self._impl.key_shape)]))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    dtype = property(lambda self: KEY_DTYPES[self._impl.name])
    T = property(lambda self: self.transpose())

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a single key)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a single key (a 0-d key array)")
        return (self._wrap(index_in_dim(self._data, i, keepdims=False))
                for i in range(self.shape[0]))

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index) or len(index) > self.ndim:
            raise IndexError(f"key arrays of shape {self.shape} take at most {self.ndim} "
                             "indices, and no Ellipsis")
        return self._wrap(self._data[index])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self._wrap(lax.reshape(self._data, tuple(shape) + self._impl.key_shape))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(axes) or tuple(reversed(range(self.ndim)))
        trailing = tuple(range(self.ndim, self._data.ndim))
        return self._wrap(lax.transpose(self._data, tuple(a % max(self.ndim, 1) for a in axes)
                                        + trailing))

    def ravel(self):
        return self.reshape(self.size)

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        key_axes = tuple(range(-len(self._impl.key_shape), 0))
        return lax.reduce_and(lax.eq(self._data, other._data),
                              axes=tuple(a % self._data.ndim for a in key_axes))

    def __ne__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return lax.bitwise_not(self == other)

    __hash__ = None

    def __array__(self, dtype=None, copy=None):
        raise TypeError("an spmd array of typed PRNG keys cannot be converted to a NumPy array; "
                        "use spmd.random.key_data(keys) for the underlying uint32 data")

    def block_until_ready(self):
        if isinstance(self._data, Array):
            self._data.block_until_ready()
        return self

    def __repr__(self):
        body = "<traced>" if isinstance(self._data, Tracer) else np.asarray(self._data)
        return f"Array({self.shape}, dtype={self.dtype}) overlaying:\n{body}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._data,), k._impl.name),
                               lambda name, children: PRNGKeyArray(children[0],
                                                                   impls.prngs[name]))
# as in JAX, a key's tangent in custom_jvp/custom_vjp rules is float0 of the key's shape
register_float0_tangent_type(PRNGKeyArray)


# ---------------------------------------------------------------- checking keys
def check_key(name: str, key, allow_batched: bool = False, raw_impl: PRNGImpl | None = None):
    """(key data, whether it was typed, its implementation) of a typed or raw key (raw data is
    read as `raw_impl`'s, the default implementation's without it). Anything else is refused
    with a message that says what a key is."""
    typed = isinstance(key, PRNGKeyArray)
    impl = key._impl if typed else (raw_impl or impls.resolve())
    data = key._data if typed else key
    key_shape = impl.key_shape
    if not typed:
        if not (is_array_like(data) and not isinstance(data, (bool, int, float, complex))):
            raise TypeError(f"{name}: expected a PRNG key (spmd.random.key(seed) or "
                            f"spmd.random.PRNGKey(seed)), got {type(key).__name__}: {key!r:.60}")
        aval = core.get_aval(data)
        if aval.dtype != UINT32:
            raise TypeError(f"{name}: invalid PRNG key data: expected dtype uint32, got dtype="
                            f"{aval.dtype}. Create keys with spmd.random.key(seed) or "
                            "spmd.random.PRNGKey(seed)")
        if aval.shape[aval.ndim - len(key_shape):] != key_shape or aval.ndim < len(key_shape):
            raise TypeError(f"{name}: invalid PRNG key data: expected a shape ending with "
                            f"{key_shape} (the key shape of {impl.name}, the default PRNG), got "
                            f"shape={aval.shape}. Create keys with spmd.random.key(seed) or "
                            "spmd.random.PRNGKey(seed)")
        _check_legacy_key_allowed()
    shape = tuple(core.get_aval(data).shape)
    if not allow_batched and shape != key_shape:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{shape[:len(shape) - len(key_shape)] if typed else shape} != "
                         f"{() if typed else key_shape}. Use spmd.vmap for batching.")
    return data, typed, impl


_LEGACY_KEY = ("Legacy uint32 key array passed as key to jax.random function. Please create "
               "keys using jax.random.key(). If use of a raw key array was intended, set "
               'jax_legacy_prng_key="allow".')


def _check_legacy_key_allowed() -> None:
    """JAX's jax_legacy_prng_key ('allow', 'warn', 'error') on a raw uint32 key, and its
    warning under jax_enable_custom_prng."""
    if config.legacy_prng_key == "error":
        raise ValueError(_LEGACY_KEY)
    if config.legacy_prng_key == "warn":
        warnings.warn(_LEGACY_KEY, stacklevel=4)
    elif config.enable_custom_prng:
        warnings.warn("Raw arrays as random keys to jax.random functions are deprecated. "
                      "Assuming valid threefry2x32 key for now.", FutureWarning, stacklevel=4)


def rewrap(typed: bool, data, impl: PRNGImpl):
    """Key data returned in the form the caller gave it: typed in, typed out."""
    return PRNGKeyArray(data, impl) if typed else data


def _seed(ctor: str, seed, impl):
    if isinstance(seed, PRNGKeyArray):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given a PRNG key.")
    return impl.seed(ctor, seed)


def PRNGKey(seed, *, impl=None) -> Array:
    """A legacy raw key: the uint32 key data of the seed (uint32[2], its (high, low) words, for
    the default Threefry)."""
    return _seed("PRNGKey", seed, impls.resolve(impl))


def key(seed, *, impl=None) -> PRNGKeyArray:
    """A typed key (shape (), dtype key<fry> for the default Threefry) for an integer seed;
    the same data as PRNGKey."""
    impl = impls.resolve(impl)
    return PRNGKeyArray(_seed("key", seed, impl), impl)


def key_data(keys):
    """The uint32 data (with the trailing key shape) behind typed or raw keys."""
    data, _, _ = check_key("key_data", keys, allow_batched=True)
    return data


def key_impl(keys) -> str:
    """The name of the PRNG implementation of typed keys (or of the default, for raw keys)."""
    _, _, impl = check_key("key_impl", keys, allow_batched=True)
    return impl.name


def wrap_key_data(key_bits_array, *, impl=None):
    """Typed keys over uint32 key data whose trailing axes are the implementation's key shape."""
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError("wrap_key_data takes uint32 key data, but was given typed keys; use "
                        "them as they are, or key_data(keys) for their data")
    impl = impls.resolve(impl)
    data, _, _ = check_key("wrap_key_data", key_bits_array, allow_batched=True, raw_impl=impl)
    return PRNGKeyArray(data, impl)
