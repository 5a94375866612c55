"""Timing helpers shared by the benchmarks: medians over repeats, and the optional JAX peer
(installed only in the benchmark environment, never by the runtime or the tests)."""
from __future__ import annotations

import importlib.util
import os
import platform
import random
import statistics
import time


def median_seconds(fn, repeats: int = 20, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def back_to_back(f, x, calls: int = 200):
    """A timed batch for dispatch benchmarks: `calls` calls of f(x), then a wait for the last
    result, so that every side pays for all the work it queued."""
    def run():
        for _ in range(calls):
            out = f(x)
        out.block_until_ready()
    return run


def jitted_steps(lib, sgd_step, host_params, x, y, steps: int):
    """A timed batch for training-step benchmarks: `steps` steps of `lib.jit(sgd_step)` with the
    parameters donated (as a training loop does), then a wait for the last loss. Parameters and
    batch go onto the device first: the loop times the steps, not the transfers."""
    step = lib.jit(sgd_step, donate_argnums=0)
    put = lib.numpy.asarray
    state = {"params": lib.tree_util.tree_map(put, host_params)}
    xd, yd = put(x), put(y)

    def run():
        params = state["params"]
        for _ in range(steps):
            params, loss = step(params, xd, yd)
        loss.block_until_ready()
        state["params"] = params
    return run


def median_per_call(fn, calls: int = 2000, repeats: int = 7) -> float:
    """Median over `repeats` of the mean time of `calls` back-to-back calls (for microseconds)."""
    def batch():
        for _ in range(calls):
            fn()
    return median_seconds(batch, repeats, warmup=1) / calls


def interleaved(fns: dict, rounds: int = 9, calls: int = 1, warmup: int = 1,
                before: dict | None = None, clock=time.perf_counter) -> list[tuple[str, float]]:
    """Seconds per call of each function, side by side: each round times `calls` back-to-back
    calls of every function, in an order shuffled anew each round (what runs just before a side
    can slow it: a NumPy side freeing 100 MB of temporaries, say); the result is the median
    over rounds. Interleaving the sides means a change of machine load (shared CPUs) hits every
    side alike. `before[name]()`, if given, runs untimed before each timed batch of that side.
    `clock=time.process_time` counts the CPU time of the process (all its threads) instead:
    the work done, which the other users of shared CPUs change less than the wall time."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    shuffle = random.Random(0).shuffle  # the same orders in every run of a script
    for _ in range(rounds):
        shuffle(order)
        for name, fn in order:
            if before and name in before:
                before[name]()
            start = clock()
            for _ in range(calls):
                fn()
            times[name].append((clock() - start) / calls)
    return [(name, statistics.median(t)) for name, t in times.items()]


def machine() -> str:
    """The machine and its load, for RESULTS.md: timings on shared CPUs mean little without."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} cores, load average {load}, "
            f"Python {platform.python_version()}")


def goal(text: str, ratio: float, limit: float, higher_is_better: bool = False):
    met = ratio >= limit if higher_is_better else ratio <= limit
    sign = ">=" if higher_is_better else "<="
    print(f"  goal {text}: {ratio:.2f} (want {sign} {limit}) -> {'met' if met else 'NOT met'}")


def ten_steps(step, state: dict, *batch):
    """A timed function: 10 steps of `step` from state["p"] (kept there), then one wait: the
    train-step rows of the per-call order check's benchmarks."""
    def run():
        for _ in range(10):
            state["p"], value = step(state["p"], *batch)
        value.block_until_ready()
    return run


def order_check_goals(rows, whats, suffix: str = ""):
    """The order check's goal for each `what`: its "check on" row at most 5% over "check off"."""
    t = dict(rows)
    for what in whats:
        goal(f"{what} with the check / without{suffix}",
             t[f"{what}, check on"] / t[f"{what}, check off"], 1.05)


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None


def report(title: str, rows: list[tuple[str, float]], baseline: str | None = None, unit="ms"):
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    print(f"\n## {title}")
    base = dict(rows).get(baseline) if baseline else None
    for name, seconds in rows:
        ratio = f"  ({seconds / base:.2f}x {baseline})" if base else ""
        print(f"  {name:28s} {seconds * scale:10.3f} {unit}{ratio}")
