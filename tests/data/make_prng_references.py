"""Writes prng_references.json: what jax 0.10.2 draws with each of its PRNG implementations
(seeding, split, fold_in, bits of every width, uniform, normal, randint, and bits under vmap),
the oracle of tests/spmd/test_random_impls.py. Run with jax installed (the benchmarks' venv):
`cd benchmarks && ../.bench-venv/bin/python ../tests/data/make_prng_references.py`.
The tests never import jax; they read this file."""
import json
import os

import numpy as np

import jax
import jax.numpy as jnp

IMPLS = ["threefry2x32", "rbg", "unsafe_rbg", "philox2x32", "philox4x32", "threefry4x32"]


def draws(impl: str) -> dict:
    key = jax.random.key(42, impl=impl)
    raw = jax.random.key_data(key)
    k1, k2 = jax.random.split(key)
    out = {
        "seed_42": raw, "seed_0": jax.random.key_data(jax.random.key(0, impl=impl)),
        "seed_neg3": jax.random.key_data(jax.random.key(-3, impl=impl)),
        "split_3": jax.random.key_data(jax.random.split(key, 3)),
        "split_2x2": jax.random.key_data(jax.random.split(key, (2, 2))),
        "fold_in_7": jax.random.key_data(jax.random.fold_in(key, 7)),
        "bits32": jax.random.bits(key, (5,), jnp.uint32),
        "bits16": jax.random.bits(k1, (3, 2), jnp.uint16),
        "bits8": jax.random.bits(k2, (7,), jnp.uint8),
        "uniform": jax.random.uniform(key, (6,)),
        "normal": jax.random.normal(k1, (2, 3)),
        "randint": jax.random.randint(k2, (6,), 0, 100),
        "vmap_bits": jax.vmap(lambda k: jax.random.bits(k, (3,)))(jax.random.split(key, 2)),
        "permutation": jax.random.permutation(key, 6),
    }
    return {name: np.asarray(v).tolist() for name, v in out.items()}


def main():
    refs = {impl: draws(impl) for impl in IMPLS}
    jax.config.update("jax_threefry_partitionable", False)
    refs["rbg_original_split"] = {
        "split_3": np.asarray(jax.random.key_data(
            jax.random.split(jax.random.key(42, impl="rbg"), 3))).tolist()}
    refs["threefry2x32_original"] = draws("threefry2x32")
    jax.config.update("jax_threefry_partitionable", True)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prng_references.json")
    with open(path, "w") as f:
        json.dump({"jax_version": jax.__version__, "draws": refs}, f, indent=0)
    print("wrote", path)


if __name__ == "__main__":
    main()
