"""Keep freed XLA buffers in the process instead of handing them back to the OS.

XLA's CPU runtime takes every buffer (an execution's outputs and temporaries) from malloc.
glibc serves a block above its mmap threshold (128 KiB at first, growing with use up to
32 MiB) with a fresh mmap and unmaps it on free, and it trims freed memory at the top of the
heap back to the OS. Either way the next execution's buffers are new pages, and the first write
to each 4 KiB page is a page fault: for a 16 MiB result about 6 ms, which made a 16 MiB
all-reduce over MPI inside a program take 17 ms instead of MPI's own 11 ms (benchmarks/
RESULTS.md, issue 6). With the mmap threshold fixed at its maximum and a high trim threshold,
freed blocks are reused, as NumPy's are.

Blocks over 32 MiB (glibc's limit) still come from mmap. A user who sets glibc's own
MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_, or SPMD_KEEP_HOST_MEMORY=0, keeps glibc's
behaviour.
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_THRESHOLD = 32 << 20  # the largest value glibc accepts on 64-bit machines
TRIM_THRESHOLD = 512 << 20


def keep_freed_buffers() -> bool:
    """Tune glibc's malloc as above; False where it does not apply (not glibc, or the user
    chose otherwise)."""
    if not sys.platform.startswith("linux") or os.environ.get(
            "SPMD_KEEP_HOST_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
