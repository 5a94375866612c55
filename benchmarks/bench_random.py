"""Issue 8 benchmark: 10M float32 standard normals from one key, side by side in one run:
spmd.jit(random.normal) vs NumPy's default Generator vs jax.jit(jax.random.normal) (the last only
where jax is installed: the benchmark environment's peer). Where jax runs, the script also
checks that spmd and jax drew the very same numbers from the same key."""
from __future__ import annotations

import numpy as np

from common import jax_available, median_seconds, report

import spmd
from spmd import random

N = 10_000_000
SEED = 0


def normals():
    generator = np.random.default_rng(SEED)
    rows = [("numpy default_rng", median_seconds(
        lambda: generator.standard_normal(N, dtype=np.float32), 10))]

    draw = spmd.jit(lambda k: random.normal(k, (N,), np.float32))
    key = random.PRNGKey(SEED)
    rows.append(("spmd.jit", median_seconds(lambda: draw(key).block_until_ready(), 10)))

    # ---- the jax 0.10.2 slot: runs only where `import jax` works (never in the runtime/tests)
    if jax_available():
        import jax
        jax_draw = jax.jit(lambda k: jax.random.normal(k, (N,), np.float32))
        jax_key = jax.random.PRNGKey(SEED)
        rows.append(("jax.jit", median_seconds(lambda: jax_draw(jax_key).block_until_ready(), 10)))
        same = np.array_equal(np.asarray(draw(key)), np.asarray(jax_draw(jax_key)))
        print(f"spmd and jax drew identical {N} normals from PRNGKey({SEED}): {same}")
    report(f"random.normal, {N // 1_000_000}M float32", rows, "spmd.jit")


if __name__ == "__main__":
    normals()
