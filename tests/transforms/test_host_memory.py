"""transforms/host_memory.py: glibc keeps freed XLA buffers unless the user says otherwise.
Each case runs in a fresh interpreter, since mallopt changes the whole process."""
import os
import subprocess
import sys

import pytest

CALL = ("from transforms import host_memory; "
        "print(host_memory.keep_freed_buffers())")


def _keeps(**env) -> str:
    done = subprocess.run([sys.executable, "-c", CALL], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env},
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_is_told_to_keep_freed_buffers():
    assert _keeps() == "True"


@pytest.mark.parametrize("env", [{"SPMD_KEEP_HOST_MEMORY": "0"},
                                 {"MALLOC_MMAP_THRESHOLD_": "131072"},
                                 {"MALLOC_TRIM_THRESHOLD_": "0"}])
def test_the_users_choice_wins(env):
    assert _keeps(**env) == "False"
