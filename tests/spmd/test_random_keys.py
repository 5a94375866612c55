"""Keys: the seed-to-key derivation, split and fold_in against values recorded from JAX, typed
keys versus raw keys, and the errors for things that are not keys."""
import contextlib

import numpy as np
import pytest

import spmd
from spmd import random


@contextlib.contextmanager
def settings(**values):
    old = {name: getattr(spmd.config, name) for name in values}
    for name, value in values.items():
        spmd.config.update(name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            spmd.config.update(name, value)


U32_MAX = 2 ** 32 - 1
# Seeds and the keys JAX derives from them (jax tests/random_test.py test_prng_seeds_and_keys;
# x64 gives 64-bit seeds a high word). (seed, x64, key)
SEEDS = [
    (0, False, [0, 0]),
    (np.int32(1), False, [0, 1]),
    (np.uint32(2), False, [0, 2]),
    (np.int64(3), False, [0, 3]),
    (np.array(-3, np.int64), False, [0, U32_MAX - 2]),
    (-1, False, [0, U32_MAX]),
    (np.int32(-2), False, [0, U32_MAX - 1]),
    (np.iinfo(np.int32).max + 100, False, [0, 2147483747]),
    (np.uint32(np.iinfo(np.int32).max + 101), False, [0, 2147483748]),
    (np.iinfo(np.int32).min - 100, False, [0, 2147483548]),
    (-1, True, [U32_MAX, U32_MAX]),
    (np.int64(-3), True, [U32_MAX, U32_MAX - 2]),
    (np.iinfo(np.int32).min - 101, True, [U32_MAX, 2147483547]),
    (np.uint64(2 ** 64 - 1), True, [U32_MAX, U32_MAX]),
]


@pytest.mark.parametrize("seed,x64,expected", SEEDS)
def test_seed_to_key(seed, x64, expected):
    with settings(enable_x64=x64):
        raw = random.PRNGKey(seed)
        assert raw.dtype == np.uint32 and raw.shape == (2,)
        np.testing.assert_array_equal(np.asarray(raw), expected)
        np.testing.assert_array_equal(np.asarray(random.key_data(random.key(seed))), expected)
        if isinstance(seed, np.integer):  # traced: the same words computed in the program
            np.testing.assert_array_equal(np.asarray(spmd.jit(random.PRNGKey)(seed)), expected)


def test_batched_seeds_under_vmap():
    seeds = np.array([0, 1, -2, 7], np.int32)
    expected = [[0, s & U32_MAX] for s in seeds.tolist()]
    np.testing.assert_array_equal(np.asarray(spmd.vmap(random.PRNGKey)(seeds)), expected)


# (layout partitionable?, function, expected): the original layout's values are JAX's
# testPRNGValues (tests/random_test.py); the partitionable ones follow from JAX's rule that
# split(key, n)[i] == fold_in(key, i) (test_threefry_split_fold_in_symmetry), checked below.
def test_split_and_fold_in_original_layout():
    with settings(threefry_partitionable=False):
        k = random.PRNGKey(0)
        np.testing.assert_array_equal(np.asarray(random.split(k, 4)), [
            [2285895361, 1501764800], [1518642379, 4090693311],
            [433833334, 4221794875], [839183663, 3740430601]])
        np.testing.assert_array_equal(np.asarray(random.fold_in(k, 4)), [2285895361, 433833334])


@pytest.mark.parametrize("make_key", [random.PRNGKey, random.key])
def test_split_is_fold_in_partitionable_layout(make_key):
    with settings(threefry_partitionable=True):
        k = make_key(72)
        folded = [np.asarray(random.key_data(random.fold_in(k, i))) for i in range(3)]
        split = np.asarray(random.key_data(random.split(k, 3)))
        np.testing.assert_array_equal(split, np.stack(folded))
        by_index = spmd.vmap(lambda i: random.key_data(random.fold_in(k, i)))(
            np.arange(3, dtype=np.uint32))
        np.testing.assert_array_equal(np.asarray(by_index), split)


@pytest.mark.parametrize("partitionable", [False, True])
def test_split_shapes_and_distinct_keys(partitionable):
    with settings(threefry_partitionable=partitionable):
        k = random.PRNGKey(5)
        for num, shape in [(3, (3, 2)), ((2, 3), (2, 3, 2)), (0, (0, 2))]:
            assert random.split(k, num).shape == shape
        flat = np.asarray(random.split(k, 64)).view(np.uint64).ravel()
        assert len(np.unique(flat)) == 64


def test_typed_keys_mirror_raw_keys():
    raw, typed = random.PRNGKey(42), random.key(42)
    assert typed.shape == () and typed.dtype is random.KEY_DTYPE and str(typed.dtype) == "key<fry>"
    np.testing.assert_array_equal(np.asarray(random.key_data(typed)), np.asarray(raw))
    keys = random.split(typed, 4)
    assert isinstance(keys, random.PRNGKeyArray) and keys.shape == (4,) and len(keys) == 4
    np.testing.assert_array_equal(np.asarray(random.key_data(keys)),
                                  np.asarray(random.split(raw, 4)))
    first, *rest = keys
    np.testing.assert_array_equal(np.asarray(random.key_data(first)),
                                  np.asarray(random.split(raw, 4))[0])
    assert keys[1:3].shape == (2,) and keys.reshape(2, 2).shape == (2, 2)
    assert bool(keys[0] == first) and not bool(keys[0] != first)
    wrapped = random.wrap_key_data(random.split(raw, 4))
    np.testing.assert_array_equal(np.asarray(wrapped == keys), [True] * 4)
    np.testing.assert_array_equal(np.asarray(random.uniform(typed, (3,))),
                                  np.asarray(random.uniform(raw, (3,))))
    out = spmd.jit(lambda k: random.split(k))(typed)  # a pytree through jit
    assert isinstance(out, random.PRNGKeyArray) and out.shape == (2,)


KEY_ERRORS = [
    (lambda: random.uniform(np.zeros(2, np.float32)), TypeError,
     r"invalid PRNG key data: expected dtype uint32, got dtype=float32"),
    (lambda: random.normal(np.zeros(3, np.uint32)), TypeError,
     r"expected a shape ending with \(2,\) \(the key shape of threefry2x32, the default PRNG\), "
     r"got shape=\(3,\)"),
    (lambda: random.split([0, 0]), TypeError, r"expected a PRNG key.*got list"),
    (lambda: random.split(random.split(random.PRNGKey(0), 3)), ValueError,
     r"split accepts a single key, but was given a key array of shape \(3, 2\)"),
    (lambda: random.normal(random.split(random.key(0), 3)), ValueError,
     r"normal accepts a single key.*shape \(3,\) != \(\)"),
    (lambda: random.PRNGKey(1.5), TypeError, "PRNG key seed must be an integer"),
    (lambda: random.PRNGKey(2 ** 63), OverflowError, "does not fit in int64"),
    (lambda: random.key(0, impl="mt19937"), ValueError,
     r"unrecognized PRNG implementation 'mt19937'; spmd has \['philox2x32', "),
    (lambda: random.PRNGKey(np.arange(3)), TypeError,
     r"accepts a scalar seed, but was given an array of shape \(3,\)"),
    (lambda: random.PRNGKey(random.key(0)), TypeError, "given a PRNG key"),
    (lambda: random.fold_in(random.PRNGKey(0), np.arange(2)), TypeError,
     "fold_in accepts a scalar"),
    (lambda: random.fold_in(random.PRNGKey(0), -1), OverflowError, "does not fit in uint32"),
    (lambda: random.wrap_key_data(np.zeros((3, 2), np.int32)), TypeError, "expected dtype uint32"),
    (lambda: np.asarray(random.key(0)), TypeError, "use spmd.random.key_data"),
    (lambda: random.split(random.PRNGKey(0), 2.0), TypeError, "num must be a non-negative int"),
]


@pytest.mark.parametrize("call,error,match", KEY_ERRORS)
def test_key_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
