"""A job joins only its own coordinator, and a coordinator address that leads elsewhere is a
Python error naming what is there (issue 14, parts 3 and 6): real processes, each with a
timeout, so that a hang or an abort fails the test."""
import http.server
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from local_job import SCRIPTS, start_job, wait_job
from spmd.cluster.addresses import free_port
from spmd.cluster.job_identity import IdentityServer


def wait_for_line(proc: subprocess.Popen, line: str, timeout: float) -> None:
    found = threading.Event()

    def read():
        for got in proc.stdout:
            if got.strip() == line:
                found.set()
                return
    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"no {line!r} within {timeout} s"


@pytest.mark.timeout(120)
def test_a_second_job_on_the_same_coordinator_fails_and_the_first_goes_on(tmp_path):
    coordinator, stop = f"127.0.0.1:{free_port()}", tmp_path / "stop"
    # over gloo: MPI's waits spin, and two processes psum-ing without pause over MPI slow the
    # strangers' start on the suite's 2 shared cores past the bound below
    first = start_job("psum_loop_job.py", 2, stop, coordinator=coordinator, cpu_devices=2,
                      job_id="first-job", extra_env={"SPMD_CROSS_PROCESS_COLLECTIVES": "gloo"})
    start = time.monotonic()
    wait_for_line(first[0], "ready", 60)  # the first job is assembled and computing
    # two strangers: one with a job id of its own, one started by hand (no job id at all)
    strangers = {job_id: start_job("join_only.py", 2, coordinator=coordinator, job_id=job_id)
                 for job_id in ("second-job", None)}
    began = time.monotonic()
    for job_id, procs in strangers.items():
        ended = wait_job(procs, began, 40, f"stranger job {job_id}")
        for i, e in enumerate(ended):
            assert e.code == 1 and "joined" not in e.stdout, (job_id, i, e.stderr)
            assert e.seconds < 15, (job_id, i, e.seconds)  # fails fast: no waiting out timeouts
        assert (f"RuntimeError: process 0 of 2: cannot start the spmd coordinator on "
                f"{coordinator}: another spmd job (job id 'first-job', 2 processes) is already "
                f"served at {coordinator}") in ended[0].stderr, ended[0].stderr
        if job_id is not None:
            said = (f"RuntimeError: process 1 of 2: the coordinator at {coordinator} serves "
                    f"another job (job id 'first-job'), not this process's (job id "
                    f"'second-job'): two jobs were given the same coordinator address")
        else:
            said = (f"RuntimeError: process 1 of 2: the coordinator at {coordinator} serves "
                    f"another job (job id 'first-job'), not this process's (job id None)")
        assert said in ended[1].stderr, ended[1].stderr
    stop.touch()  # the first job has been computing all along; now it may finish
    done = wait_job(first, start, 60, "the first job")
    for e in done:  # untouched: every psum right until the end, a clean exit
        assert e.code == 0, "\n".join(f"process {i} ({d.code}): {d.stderr}"
                                       for i, d in enumerate(done))
        assert re.search(r"finished \d+ steps, all right", e.stdout), e.stdout


def test_a_job_without_id_refuses_a_second_process_with_the_same_id():
    # (in-process: the rule that protects jobs started by hand, without a job id)
    address = f"127.0.0.1:{free_port()}"
    server = IdentityServer(address, address, None, 2)
    try:
        assert server.missing() == [1]
        join = {"op": "join", "job": None, "process": 1, "processes": 2}
        assert "refused" not in server.answer(join)
        assert server.missing() == []
        assert re.search(r"process 1 of the job served by .* has already joined it: two "
                         r"processes claim the same process id", server.answer(join)["refused"])
        wrong_size = server.answer({**join, "processes": 3})["refused"]
        assert re.search(r"serves a job of 2 processes, but this process was told the job has "
                         r"3", wrong_size)
    finally:
        server.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.timeout(90)
def test_an_address_that_leads_elsewhere_is_a_python_error_naming_what_is_there():
    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    http_address = f"127.0.0.1:{http_server.server_address[1]}"
    silent_address = "127.0.0.1:%d" % silent.getsockname()[1]
    nobody, alone = (f"127.0.0.1:{free_port()}" for _ in range(2))
    try:
        # process 1 of 2 at each address; last, a process 0 whose process 1 never starts
        done = subprocess.run(
            [sys.executable, f"{SCRIPTS}/initialize_and_catch.py", f"{http_address}:1",
             f"{silent_address}:1", f"{nobody}:1", f"{alone}:0"],
            capture_output=True, text=True, timeout=60)
    finally:
        http_server.shutdown()
        silent.close()
    assert done.returncode == 0, done.stderr[-3000:]  # no SIGABRT: every error was caught
    said = done.stdout.splitlines()
    expected = [
        (f"NotACoordinator: process 1 of 2: the coordinator address {http_address} leads to an "
         f"HTTP server (it answered 'HTTP/1.0 "),
        (f"NotACoordinator: process 1 of 2: the coordinator address {silent_address} leads to "
         f"a listener that accepts connections but says nothing, not to spmd's coordinator"),
        (f"TimeoutError: process 1 of 2 could not reach the spmd coordinator at {nobody} "
         f"within initialization_timeout=3 s (nothing listening there"),
        (f"TimeoutError: process 0 of 2: processes [1] did not join the job at the spmd "
         f"coordinator {alone} within initialization_timeout=3 s"),
    ]
    assert len(said) == len(expected), done.stdout + done.stderr[-3000:]
    for line, text in zip(said, expected):
        seconds = float(re.match(r"caught after ([\d.]+) s: ", line).group(1))
        assert text in line, line
        assert seconds < 8, line  # within a few seconds of a 3 s timeout
