"""transforms/host_memory.py: glibc keeps freed XLA buffers unless the user says otherwise.
(The backend has already called it in this process; calling it again changes nothing.)

The effect is read back from glibc (mallinfo2): with the mmap threshold at 32 MiB a 24 MiB
block comes from the heap, not from a fresh mmap, and stays in the process when freed; a
process started with SPMD_KEEP_HOST_MEMORY=0 (glibc's own behaviour) maps it."""
import ctypes
import json
import os
import subprocess
import sys

import pytest

from spmd.transforms import backend, host_memory

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
BLOCK = 24 << 20  # under the 32 MiB threshold, over what glibc's own threshold grows to here


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_a_block() -> dict:
    """malloc(BLOCK), then free it: the bytes glibc mapped for it, and the heap's bytes with
    the block and after its free."""
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc older than 2.33 (no mallinfo2)")
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    before = libc.mallinfo2()
    block = libc.malloc(BLOCK)
    held = libc.mallinfo2()
    libc.free(block)
    after = libc.mallinfo2()
    return {"mapped": held.hblkhd - before.hblkhd, "heap_held": held.arena,
            "heap_after_free": after.arena}


@linux_only
def test_freed_blocks_up_to_32_mib_stay_in_the_heap():
    backend.client()  # the backend tunes malloc when it starts
    got = malloc_a_block()
    assert got["mapped"] == 0, got
    assert got["heap_after_free"] >= got["heap_held"], f"the heap was trimmed: {got}"


@linux_only
def test_without_the_tuning_glibc_maps_the_block():
    """The oracle for the test above: the same probe in a process that opted out."""
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, SPMD_KEEP_HOST_MEMORY="0"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mapped"] >= BLOCK, done.stdout


@linux_only
def test_glibc_is_told_to_keep_freed_buffers(monkeypatch):
    for name in ("SPMD_KEEP_HOST_MEMORY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert host_memory.keep_freed_buffers()


@pytest.mark.parametrize("name,value", [("SPMD_KEEP_HOST_MEMORY", "0"),
                                        ("MALLOC_MMAP_THRESHOLD_", "131072"),
                                        ("MALLOC_TRIM_THRESHOLD_", "0")])
def test_the_users_choice_wins(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert not host_memory.keep_freed_buffers()


if __name__ == "__main__":  # the probe in a fresh process (test_without_the_tuning_...)
    backend.client()
    print(json.dumps(malloc_a_block()))
