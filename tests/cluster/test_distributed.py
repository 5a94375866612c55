"""spmd.distributed.initialize(): its misuse errors, and a job of one process."""
import os
import socket
import subprocess
import sys
import time

import pytest

import spmd
from local_job import free_port, run_job
from spmd.transforms import backend


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "SPMD_CPU_DEVICES": "2"})


def test_initialize_after_the_backend_started_is_an_error():
    backend.client()  # this test process has computed already
    with pytest.raises(RuntimeError, match="must be called before any spmd computation"):
        spmd.distributed.initialize("127.0.0.1:1", 2, 1)
    assert not spmd.distributed.is_initialized()


@pytest.mark.timeout(60)
def test_unreachable_coordinator_names_the_address_and_the_timeout():
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    start = time.monotonic()
    done = run_python(f"import spmd; spmd.distributed.initialize({address!r}, 2, 1, "
                      f"initialization_timeout=2)")
    assert done.returncode == 1
    assert (f"TimeoutError: process 1 of 2 could not reach the spmd coordinator at {address} "
            f"within initialization_timeout=2 s") in done.stderr, done.stderr
    assert time.monotonic() - start < 20


@pytest.mark.timeout(60)
def test_coordinator_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = "127.0.0.1:%d" % taken.getsockname()[1]
        done = run_python(f"import spmd; spmd.distributed.initialize({address!r}, 2, 0)")
    assert done.returncode == 1
    assert f"cannot start the spmd coordinator on {address}: Address already in use" \
        in done.stderr, done.stderr


ONE_PROCESS_JOB = """
import spmd
from spmd.cluster import distributed
from spmd.transforms import backend
spmd.distributed.initialize({address!r}, 1, 0)
try:
    spmd.distributed.initialize({address!r}, 1, 0)
except RuntimeError as e:
    print("second call:", e)
print("job", distributed.process_index(), distributed.process_count(), len(backend.devices()),
      spmd.distributed.process_allgather(7).tolist())
"""


@pytest.mark.timeout(60)
def test_a_job_of_one_process():
    address = f"127.0.0.1:{free_port()}"
    done = run_python(ONE_PROCESS_JOB.format(address=address))
    assert done.returncode == 0, done.stderr
    assert (f"second call: spmd.distributed.initialize() was already called in this process "
            f"(process 0 of 1, coordinator {address}); call it once per process") in done.stdout
    assert "job 0 1 2 [7]" in done.stdout


@pytest.mark.timeout(60)
def test_the_coordinator_outlives_every_process():
    early, late = run_job("late_worker.py", 2)
    assert (early.code, late.code) == (0, 0), late.stderr
    assert "late use served: still served" in late.stdout
    assert early.seconds >= late.seconds - 0.5  # process 0 waited for process 1 at exit
