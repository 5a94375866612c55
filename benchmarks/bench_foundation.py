"""Issue 2 benchmarks, side by side in one run: XLA fusion of sum(x + y*z) on 16M float32
(spmd.jit vs NumPy vs jax.jit), dispatch of a jitted x + 1 on 4 floats with the input on
device, and trace + compile of a 20-layer tanh MLP forward."""
from __future__ import annotations

import numpy as np

from common import jax_available, median_per_call, median_seconds, report

import spmd
import spmd.numpy as snp

N = 16 * 1024 * 1024


def fusion():
    rng = np.random.default_rng(0)
    x, y, z = (rng.standard_normal(N, dtype=np.float32) for _ in range(3))
    rows = [("numpy", median_seconds(lambda: np.sum(x + y * z), 10))]
    f = spmd.jit(lambda a, b, c: snp.sum(a + b * c))
    xs = [snp.asarray(v) for v in (x, y, z)]
    rows.append(("spmd.jit", median_seconds(lambda: f(*xs).block_until_ready(), 10)))
    if jax_available():
        import jax
        import jax.numpy as jnp
        g = jax.jit(lambda a, b, c: jnp.sum(a + b * c))
        js = [jax.device_put(v) for v in (x, y, z)]
        rows.append(("jax.jit", median_seconds(lambda: g(*js).block_until_ready(), 10)))
    report("sum(x + y*z), 16M float32", rows, "spmd.jit")


def dispatch():
    f = spmd.jit(lambda a: a + 1)
    x = snp.asarray(np.arange(4, dtype=np.float32))
    f(x).block_until_ready()
    rows = [("spmd.jit", median_per_call(lambda: f(x)))]
    if jax_available():
        import jax
        g = jax.jit(lambda a: a + 1)
        jx = jax.device_put(np.arange(4, dtype=np.float32))
        g(jx).block_until_ready()
        rows.append(("jax.jit", median_per_call(lambda: g(jx))))
    report("dispatch of jit(x + 1), 4 floats on device", rows, "spmd.jit", unit="us")


def mlp_forward(lib, params, x):
    for w, b in params:
        x = lib.tanh(x @ w + b)
    return x


def trace_compile():
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((64, 64), dtype=np.float32) * 0.1,
               np.zeros(64, np.float32)) for _ in range(20)]
    x = rng.standard_normal((32, 64), dtype=np.float32)
    sparams = [(snp.asarray(w), snp.asarray(b)) for w, b in params]
    sx = snp.asarray(x)

    def spmd_once():
        from transforms import backend
        backend._compile_cache.clear()  # a fresh function object: trace, lower and compile anew
        f = spmd.jit(lambda p, v: mlp_forward(snp, p, v))
        f(sparams, sx).block_until_ready()
    rows = [("spmd.jit", median_seconds(spmd_once, 10))]
    if jax_available():
        import jax
        import jax.numpy as jnp
        jparams = jax.device_put(params)
        jx = jax.device_put(x)

        def jax_once():
            jax.clear_caches()
            g = jax.jit(lambda p, v: mlp_forward(jnp, p, v))
            g(jparams, jx).block_until_ready()
        rows.append(("jax.jit", median_seconds(jax_once, 10)))
    report("trace + compile, 20-layer tanh MLP forward", rows, "spmd.jit")


if __name__ == "__main__":
    fusion()
    dispatch()
    trace_compile()
