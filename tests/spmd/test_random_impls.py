"""JAX's PRNG implementations (threefry2x32, rbg, unsafe_rbg, philox2x32, philox4x32), checked
bit for bit against what jax 0.10.2 draws (tests/data/prng_references.json, written by
tests/data/make_prng_references.py; jax is never imported here), plus the default-implementation
setting, typed keys of each implementation, and the errors."""
import json
import os

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import random
from spmd.transforms import lax

with open(os.path.join(os.path.dirname(__file__), "..", "data", "prng_references.json")) as f:
    REFS = json.load(f)["draws"]

IMPLS = ["threefry2x32", "rbg", "unsafe_rbg", "philox2x32", "philox4x32", "threefry4x32"]
KEY_SHAPES = {"threefry2x32": (2,), "rbg": (4,), "unsafe_rbg": (4,), "philox2x32": (1,),
              "philox4x32": (2,), "threefry4x32": (4,)}


def draws(impl: str) -> dict:
    key = random.key(42, impl=impl)
    k1, k2 = random.split(key)
    return {
        "seed_42": random.key_data(key), "seed_0": random.key_data(random.key(0, impl=impl)),
        "seed_neg3": random.key_data(random.key(-3, impl=impl)),
        "split_3": random.key_data(random.split(key, 3)),
        "split_2x2": random.key_data(random.split(key, (2, 2))),
        "fold_in_7": random.key_data(random.fold_in(key, 7)),
        "bits32": random.bits(key, (5,), jnp.uint32),
        "bits16": random.bits(k1, (3, 2), jnp.uint16),
        "bits8": random.bits(k2, (7,), jnp.uint8),
        "uniform": random.uniform(key, (6,)),
        "normal": random.normal(k1, (2, 3)),
        "randint": random.randint(k2, (6,), 0, 100),
        "vmap_bits": spmd.vmap(lambda k: random.bits(k, (3,)))(random.split(key, 2)),
        "permutation": random.permutation(key, 6),
    }


@pytest.mark.parametrize("impl", IMPLS)
def test_draws_match_jax(impl):
    ours = draws(impl)
    for name, expected in REFS[impl].items():
        got = np.asarray(ours[name])
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=2e-7, atol=1e-7, err_msg=name)
        else:
            np.testing.assert_array_equal(got, np.asarray(expected, got.dtype), err_msg=name)


def test_original_layout_matches_jax():
    spmd.config.update("threefry_partitionable", False)
    try:
        ours = draws("threefry2x32")
        rbg_split = random.key_data(random.split(random.key(42, impl="rbg"), 3))
    finally:
        spmd.config.update("threefry_partitionable", True)
    for name, expected in REFS["threefry2x32_original"].items():
        np.testing.assert_allclose(np.asarray(ours[name], np.float64), expected, rtol=2e-7,
                                   err_msg=name)
    np.testing.assert_array_equal(rbg_split, REFS["rbg_original_split"]["split_3"])


@pytest.mark.parametrize("impl", IMPLS)
def test_typed_keys_name_their_implementation(impl):
    key = random.key(1, impl=impl)
    assert key.shape == () and random.key_impl(key) == impl
    assert random.key_data(key).shape == KEY_SHAPES[impl]
    keys = random.split(key, (2, 3))
    assert keys.shape == (2, 3) and keys.dtype == key.dtype and str(key.dtype).startswith("key<")
    assert keys[1, 2].shape == () and keys.reshape(6).shape == (6,) and keys.T.shape == (3, 2)
    # the implementation rides through jit and vmap with the key
    again = spmd.jit(lambda k: random.split(k, 2))(key)
    assert random.key_impl(again) == impl
    np.testing.assert_array_equal(random.key_data(again), random.key_data(random.split(key, 2)))
    wrapped = random.wrap_key_data(random.key_data(keys), impl=impl)
    assert bool(jnp.all(wrapped == keys))


@pytest.mark.parametrize("impl", ["rbg", "philox2x32"])
def test_default_impl_for_raw_keys(impl):
    """A raw key is read with the default implementation: PRNGKey under the context manager
    (JAX's jax.default_prng_impl) gives that implementation's data, and samplers use it."""
    with spmd.default_prng_impl(impl):
        raw = random.PRNGKey(42)
        assert raw.shape == KEY_SHAPES[impl]
        np.testing.assert_array_equal(random.bits(raw, (5,), jnp.uint32),
                                      REFS[impl]["bits32"])
    assert spmd.config.default_prng_impl == "threefry2x32"
    with pytest.raises(TypeError, match=r"expected a shape ending with \(2,\) .*threefry2x32"):
        random.bits(raw, (5,))


def test_default_impl_setting_errors():
    with pytest.raises(ValueError, match="unrecognized PRNG implementation 'fast'"):
        spmd.config.update("jax_default_prng_impl", "fast")
    assert spmd.config.default_prng_impl == "threefry2x32"  # the refused value is not kept
    with pytest.raises(ValueError, match="unrecognized PRNG implementation 'fast'"):
        with spmd.default_prng_impl("fast"):
            pass


def test_unsafe_rbg_fold_in_and_vmap_keep_jax_semantics():
    """unsafe_rbg folds in by xor with the generator's tenth row; under vmap the bit generator
    uses the first key of the batch for every row (JAX's batching rule), so vmapped rbg draws are
    not the per-key draws: the references above pin both."""
    key = random.key(5, impl="unsafe_rbg")
    a, b = random.fold_in(key, 1), random.fold_in(key, 2)
    assert not np.array_equal(random.key_data(a), random.key_data(b))


def test_rng_bit_generator_errors():
    with pytest.raises(TypeError, match="unsupported dtype int32"):
        lax.rng_bit_generator(np.zeros(4, np.uint32), (2,), np.int32)
    with pytest.raises(TypeError, match=r"the key must be uint32\[4\], got u32\[2\]"):
        lax.rng_bit_generator(np.zeros(2, np.uint32), (2,))
