"""Timing helpers shared by the benchmarks: medians over repeats, and the optional JAX peer
(installed only in the benchmark environment, never by the runtime or the tests)."""
from __future__ import annotations

import importlib.util
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


def median_per_call(fn, calls: int = 2000, repeats: int = 7) -> float:
    """Median over `repeats` of the mean time of `calls` back-to-back calls (for microseconds)."""
    def batch():
        for _ in range(calls):
            fn()
    return median_seconds(batch, repeats, warmup=1) / calls


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None


def report(title: str, rows: list[tuple[str, float]], baseline: str | None = None, unit="ms"):
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    print(f"\n## {title}")
    base = dict(rows).get(baseline) if baseline else None
    for name, seconds in rows:
        ratio = f"  ({seconds / base:.2f}x {baseline})" if base else ""
        print(f"  {name:28s} {seconds * scale:10.3f} {unit}{ratio}")
