"""PRNG keys: JAX's two representations, the seed-to-key derivation, and the check that turns
whatever a user passes as a key into key data.

A key's data is a uint32 array whose last axis has size 2 (Threefry-2x32's key words).
- `PRNGKey(seed)` returns that data itself, a uint32[2] array: JAX's legacy raw key.
- `key(seed)` returns a `PRNGKeyArray`: the same data behind a typed wrapper whose shape leaves
  out the trailing 2 (a single key has shape ()), as JAX's typed keys `key<fry>` do. It is a
  pytree whose one leaf is the data, so it passes through jit, vmap and pmap. The difference
  from JAX: its dtype is a plain marker object (`spmd.random.KEY_DTYPE`), not a NumPy extended
  dtype, so `jnp.issubdtype(k.dtype, jax.dtypes.prng_key)` has no spmd equivalent; arithmetic on
  it is refused, and `key_data` / `wrap_key_data` convert between the two forms.
"""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import is_array_like
from spmd.transforms import core, dtypes, lax, tree_util
from spmd.transforms.array import Array, make_array
from spmd.transforms.config import config
from spmd.transforms.core import Tracer
from spmd.transforms.lax.slicing import concatenate, index_in_dim

UINT32 = np.dtype(np.uint32)
_LOW32 = 0xFFFFFFFF


class KeyDtype:
    """The element type of typed keys: Threefry-2x32 keys (`key<fry>` in JAX)."""
    name = "key<fry>"
    impl = "threefry2x32"

    def __repr__(self):
        return self.name

    __str__ = __repr__


KEY_DTYPE = KeyDtype()


class PRNGKeyArray:
    """An array of typed keys (what `key` and `split` of a typed key return). Its shape is the
    key data's shape without the trailing key axis of size 2."""
    __slots__ = ("_data",)
    __array_priority__ = 100

    def __init__(self, data):
        self._data = data

    shape = property(lambda self: tuple(self._data.shape[:-1]))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    dtype = property(lambda self: KEY_DTYPE)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a single key)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a single key (a 0-d key array)")
        return (PRNGKeyArray(index_in_dim(self._data, i, keepdims=False))
                for i in range(self.shape[0]))

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index) or len(index) > self.ndim:
            raise IndexError(f"key arrays of shape {self.shape} take at most {self.ndim} "
                             "indices, and no Ellipsis")
        return PRNGKeyArray(self._data[index])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return PRNGKeyArray(lax.reshape(self._data, tuple(shape) + (2,)))

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return lax.reduce_and(lax.eq(self._data, other._data), axes=(-1,))

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
        return f"Array({self.shape}, dtype={KEY_DTYPE}) overlaying:\n{body}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._data,), None),
                               lambda _, children: PRNGKeyArray(children[0]))


# ---------------------------------------------------------------- checking keys
def check_key(name: str, key, allow_batched: bool = False):
    """The key data (uint32[..., 2]) of a typed or raw key, and whether it was typed. Anything
    else is refused with a message that says what a key is."""
    typed = isinstance(key, PRNGKeyArray)
    data = key._data if typed else key
    if not typed:
        if not (is_array_like(data) and not isinstance(data, (bool, int, float, complex))):
            raise TypeError(f"{name}: expected a PRNG key (spmd.random.key(seed) or "
                            f"spmd.random.PRNGKey(seed)), got {type(key).__name__}: {key!r:.60}")
        aval = core.get_aval(data)
        if aval.dtype != UINT32:
            raise TypeError(f"{name}: invalid PRNG key data: expected dtype uint32, got dtype="
                            f"{aval.dtype}. Create keys with spmd.random.key(seed) or "
                            "spmd.random.PRNGKey(seed)")
        if not aval.shape or aval.shape[-1] != 2:
            raise TypeError(f"{name}: invalid PRNG key data: expected a shape ending with (2,), "
                            f"got shape={aval.shape}. Create keys with spmd.random.key(seed) or "
                            "spmd.random.PRNGKey(seed)")
    shape = tuple(core.get_aval(data).shape)
    if not allow_batched and shape != (2,):
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{shape[:-1] if typed else shape} != {() if typed else (2,)}. "
                         "Use spmd.vmap for batching.")
    return data, typed


def rewrap(typed: bool, data):
    """Key data returned in the form the caller gave it: typed in, typed out."""
    return PRNGKeyArray(data) if typed else data


# ---------------------------------------------------------------- seeds
def _seed_words_concrete(seed) -> tuple[int, int]:
    """(high, low) words of a known seed, as JAX computes them: with enable_x64 a 64-bit seed
    (Python ints included) is split in two words; otherwise the seed fills the low word."""
    python_int = isinstance(seed, int)
    value = int(seed) if python_int else int(np.asarray(seed))
    if python_int and not -2 ** 63 <= value < 2 ** 63:
        raise OverflowError(f"PRNG seed {value} does not fit in int64; pass a NumPy uint64 for "
                            "seeds in [2**63, 2**64)")
    wide = config.enable_x64 and (python_int or np.asarray(seed).dtype.itemsize == 8)
    return ((value >> 32) & _LOW32 if wide else 0), value & _LOW32


def _seed_words_traced(seed):
    aval = core.get_aval(seed)
    if aval.dtype.itemsize == 8:
        high = lax.shift_right_logical(seed, lax.full((), 32, aval.dtype))
        low = lax.bitwise_and(seed, lax.full((), _LOW32, aval.dtype))
        return lax.convert_element_type(high, UINT32), lax.convert_element_type(low, UINT32)
    # a narrower seed sign- or zero-extends into the low word, as a C cast does
    return lax.full((), 0, UINT32), lax.convert_element_type(seed, UINT32)


def stack_last(first, second):
    """Two arrays of one shape stacked along a new trailing axis of size 2."""
    nd = core.get_aval(first).ndim
    return concatenate([lax.expand_dims(first, (nd,)), lax.expand_dims(second, (nd,))], nd)


def seed_to_key_data(ctor: str, seed):
    """uint32[2] key data for an integer seed (JAX's threefry_seed)."""
    if isinstance(seed, PRNGKeyArray):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given a PRNG key.")
    if not is_array_like(seed):
        raise TypeError(f"{ctor} accepts an integer seed, got {type(seed).__name__}: "
                        f"{seed!r:.60}")
    if np.ndim(seed):
        raise TypeError(f"{ctor} accepts a scalar seed, but was given an array of shape "
                        f"{np.shape(seed)} != (). Use spmd.vmap for batching")
    dtype = np.asarray(seed).dtype if not isinstance(seed, (Array, Tracer)) else seed.dtype
    if isinstance(seed, bool) or not dtypes.is_integer(dtype):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r:.60} of dtype {dtype}")
    if core.is_concrete(seed):
        return make_array(np.array(_seed_words_concrete(seed), UINT32))
    return stack_last(*_seed_words_traced(seed))


def check_impl(impl):
    """spmd implements JAX's default PRNG only; `impl` may name it or be None."""
    if impl not in (None, KEY_DTYPE.impl):
        raise ValueError(f"unrecognized PRNG implementation {impl!r}; spmd implements only "
                         f"{KEY_DTYPE.impl!r} (JAX's default)")


def PRNGKey(seed, *, impl=None) -> Array:
    """A legacy raw key: the uint32[2] array (high, low) of a 64- or 32-bit integer seed."""
    check_impl(impl)
    return seed_to_key_data("PRNGKey", seed)


def key(seed, *, impl=None) -> PRNGKeyArray:
    """A typed key (shape (), dtype key<fry>) for an integer seed; same data as PRNGKey."""
    check_impl(impl)
    return PRNGKeyArray(seed_to_key_data("key", seed))


def key_data(keys):
    """The uint32 data (trailing axis 2) behind typed or raw keys."""
    data, _ = check_key("key_data", keys, allow_batched=True)
    return data


def wrap_key_data(key_bits_array, *, impl=None):
    """Typed keys over uint32 key data whose last axis has size 2."""
    check_impl(impl)
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError("wrap_key_data takes uint32 key data, but was given typed keys; use "
                        "them as they are, or key_data(keys) for their data")
    data, _ = check_key("wrap_key_data", key_bits_array, allow_batched=True)
    return PRNGKeyArray(data)
