"""transforms/host_memory.py: glibc keeps freed XLA buffers unless the user says otherwise.
(The backend has already called it in this process; calling it again changes nothing.)"""
import sys

import pytest

from spmd.transforms import host_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
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
