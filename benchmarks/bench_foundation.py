"""Issue 2 and 11 benchmarks, spmd, NumPy and jax 0.10.2 side by side in one run (interleaved
rounds): XLA fusion of sum(x + y*z) on 16M float32, dispatch of a jitted x + 1 on 4 floats with
the input on device, dispatch of a jitted call whose arguments are a 41-leaf tree on device,
trace + compile of a 20-layer tanh MLP forward, `jit(f).lower(*args).compile()` (every
cache cleared first, untimed, by `clear_caches()` on both sides, and a new jit object each
time), and the fetch of a pmap result to the host, whole and one row.
`python bench_foundation.py dispatch dispatch_tree` runs only the cases named."""
from __future__ import annotations

import numpy as np

from common import back_to_back, goal, interleaved, jax_available, machine, report

import spmd
import spmd.numpy as snp

N = 16 * 1024 * 1024
CALLS = 200  # dispatches per timed batch; the batch waits for its last result


def fusion():
    """Two interleaved sets in the one run: spmd with NumPy, then spmd with jax. NumPy's side
    allocates and frees 128 MB of temporaries per call, which slows whichever side runs next,
    so it is kept out of the spmd/jax comparison."""
    rng = np.random.default_rng(0)
    x, y, z = (rng.standard_normal(N, dtype=np.float32) for _ in range(3))
    f = spmd.jit(lambda a, b, c: snp.sum(a + b * c))
    xs = [snp.asarray(v) for v in (x, y, z)]
    run_spmd = lambda: f(*xs).block_until_ready()  # noqa: E731
    rows = interleaved({"numpy": lambda: np.sum(x + y * z), "spmd.jit": run_spmd}, rounds=15)
    report("sum(x + y*z), 16M float32: spmd and NumPy", rows, "spmd.jit")
    t = dict(rows)
    goal("numpy/spmd (speed-up over NumPy)", t["numpy"] / t["spmd.jit"], 2, higher_is_better=True)
    if jax_available():
        import jax
        import jax.numpy as jnp
        g = jax.jit(lambda a, b, c: jnp.sum(a + b * c))
        js = [jax.device_put(v) for v in (x, y, z)]
        rows = interleaved({"spmd.jit": run_spmd,
                            "jax.jit": lambda: g(*js).block_until_ready()}, rounds=25)
        report("sum(x + y*z), 16M float32: spmd and jax", rows, "jax.jit")
        goal("spmd/jax time", rows[0][1] / rows[1][1], 1.1)


def _python_floor(f, x):
    """The least any Python dispatcher of spmd's arrays can do for `f(x)`, f a jitted function
    already called with x: a plain function (no `__call__` slot) that looks the argument's
    aval up, runs XLA and wraps the one result, with no trace, keyword or donation check."""
    from spmd.transforms.array import Array
    f(x)
    lookup = f._jit._fast.peek
    fast = lookup(x.aval)
    execute, handlers, out_aval = fast.execute, fast.handlers, fast.out_aval

    def floor(a):
        lookup(a.aval)
        return Array(execute([a._buf]).consume_with_handlers(handlers)[0], out_aval)
    return floor


def dispatch():
    f = spmd.jit(lambda a: a + 1)
    x = snp.asarray(np.arange(4, dtype=np.float32))
    sides = {"spmd.jit": back_to_back(f, x, CALLS),
             "python floor (see docstring)": back_to_back(_python_floor(f, x), x, CALLS)}
    if jax_available():
        import jax
        g = jax.jit(lambda a: a + 1)
        sides["jax.jit"] = back_to_back(g, jax.device_put(np.arange(4, dtype=np.float32)), CALLS)
    rows = [(name, t / CALLS) for name, t in interleaved(sides, rounds=41)]
    report("dispatch of jit(x + 1), 4 floats on device", rows,
           "jax.jit" if len(rows) > 2 else None, unit="us")
    if len(rows) > 2:
        goal("spmd/jax time per call", rows[0][1] / rows[2][1], 1.0)


def dispatch_tree():
    """A jitted call with a 41-leaf argument tree (20 (w, b) layers and the input), so that
    flattening the arguments and finding the compiled program is most of the call. The layers
    are 4 wide: XLA's work is a few microseconds, and every leaf is used (jax drops unused
    arguments)."""
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((4, 4), dtype=np.float32) * 0.1, np.zeros(4, np.float32))
              for _ in range(20)]
    x = rng.standard_normal((2, 4), dtype=np.float32)
    f = spmd.jit(lambda p, v: mlp_forward(snp, p, v))
    s_params = [(snp.asarray(w), snp.asarray(b)) for w, b in params]
    sides = {"spmd.jit": back_to_back(lambda v: f(s_params, v), snp.asarray(x), CALLS)}
    if jax_available():
        import jax
        import jax.numpy as jnp
        g = jax.jit(lambda p, v: mlp_forward(jnp, p, v))
        j_params = jax.device_put(params)
        sides["jax.jit"] = back_to_back(lambda v: g(j_params, v), jax.device_put(x), CALLS)
    rows = [(name, t / CALLS) for name, t in interleaved(sides, rounds=41)]
    report("dispatch of jit(mlp)(params, x), 41 leaves on device", rows,
           "jax.jit" if len(rows) > 1 else None, unit="us")
    if len(rows) > 1:
        goal("spmd/jax time per call", rows[0][1] / rows[1][1], 1.1)


def mlp_forward(lib, params, x):
    for w, b in params:
        x = lib.tanh(x @ w + b)
    return x


def _trace_compile(lib, params, x):
    def once():  # timed: a new jit object, traced, lowered and compiled
        lib.jit(lambda p, v: mlp_forward(lib.numpy, p, v)).lower(params, x).compile()
    return once


def trace_compile():
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((64, 64), dtype=np.float32) * 0.1,
               np.zeros(64, np.float32)) for _ in range(20)]
    x = rng.standard_normal((32, 64), dtype=np.float32)
    sides = {"spmd.jit": _trace_compile(spmd, [(snp.asarray(w), snp.asarray(b))
                                               for w, b in params], snp.asarray(x))}
    if jax_available():
        import jax
        sides["jax.jit"] = _trace_compile(jax, jax.device_put(params), jax.device_put(x))
    clear = {"spmd.jit": spmd.clear_caches}  # untimed, before every timed compile
    if jax_available():
        clear["jax.jit"] = jax.clear_caches
    rows = interleaved(sides, rounds=11, before=clear)
    report("trace + lower + compile, 20-layer tanh MLP forward", rows,
           "jax.jit" if len(rows) > 1 else None)
    if len(rows) > 1:
        goal("spmd/jax time", rows[0][1] / rows[1][1], 1.0)


def _fetch_side(make, read):
    """(timed, untimed before it): each timed batch reads CALLS fresh results, made and waited
    for untimed, so that nothing a fetch caches on its result is reused."""
    results = []

    def make_fresh():
        results[:] = [make() for _ in range(CALLS)]
        for r in results:
            r.block_until_ready()

    def read_all():
        for r in results:
            read(r)
    return read_all, make_fresh


def fetch():
    """Device to host of a pmap result over every local device (8 under `make bench`): the
    whole array, and one device's row."""
    n = spmd.local_device_count()
    x = np.arange(n * 1024, dtype=np.float32).reshape(n, 1024)
    row = min(3, n - 1)  # a device other than the first where there are several
    double = spmd.pmap(lambda v: v * 2)
    sides = {"spmd np.asarray(out)": _fetch_side(lambda: double(x), np.asarray),
             f"spmd out[{row}]": _fetch_side(lambda: double(x), lambda r: np.asarray(r[row]))}
    if jax_available():
        import jax
        jdouble = jax.pmap(lambda v: v * 2)
        sides["jax np.asarray(out)"] = _fetch_side(lambda: jdouble(x), np.asarray)
        sides[f"jax out[{row}]"] = _fetch_side(lambda: jdouble(x), lambda r: np.asarray(r[row]))
    times = interleaved({name: run for name, (run, _) in sides.items()}, rounds=21,
                        before={name: make for name, (_, make) in sides.items()})
    rows = [(name, t / CALLS) for name, t in times]
    report(f"fetch of a fresh pmap result, {n} x 1024 float32 over {n} devices", rows,
           "jax np.asarray(out)" if len(rows) > 2 else None, unit="us")


CASES = {"fusion": fusion, "dispatch": dispatch, "dispatch_tree": dispatch_tree,
         "trace_compile": trace_compile, "fetch": fetch}

if __name__ == "__main__":
    import sys
    print(f"machine: {machine()}")
    for name in sys.argv[1:] or CASES:  # e.g. `bench_foundation.py dispatch dispatch_tree`
        CASES[name]()
    print(f"machine at the end: {machine()}")
