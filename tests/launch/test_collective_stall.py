"""A process that is alive but stuck (issue 14, part 1): the others' collective warns once,
naming it and what it last ran, then every process ends with an error naming it; a pause
shorter than the timeout is waited out. scripts/stall_job.py pauses process 1 after its 4th
step, under SPMD_COLLECTIVE_WARN=2 and SPMD_COLLECTIVE_TIMEOUT=8, or stops it (SIGSTOP: none
of its threads runs, it answers nothing); its psums go over MPI, in the world the processes
formed through the coordinator (spmd-run) or in mpiexec's (spmd-run --mpi)."""
import re
import time

import pytest

from test_spmd_run import script, spmd_run_command

WARNING = ("[0] spmd: warning: process 0 has waited over 2 s for pmap of step (its call 5) to "
           "finish; processes [1] have not started it (process 1 last started pmap of step (its "
           "call 4) ")
TIMED_OUT = ("a collective between processes timed out: process 0 waited over 8 s for pmap of "
             "step (its call 5); processes [1] have not started it (process 1 last started pmap "
             "of step (its call 4) ")


@pytest.fixture(autouse=True)
def limits(monkeypatch):
    monkeypatch.setenv("SPMD_COLLECTIVE_WARN", "2")
    monkeypatch.setenv("SPMD_COLLECTIVE_TIMEOUT", "8")


def paused_at(stdout: str) -> float:
    return float(re.search(r"^\[1\] pausing at (\S+)$", stdout, re.M).group(1))


# (launcher, what process 1 does): a long pause (its threads still run), or SIGSTOP (none
# runs: it cannot publish what it last started, nor read the error; spmd-run kills it after
# --grace 1, as a stopped process does not act on SIGTERM)
STUCK = [("local", "600"), ("mpi", "600"), ("local", "stop")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("launcher,pause", STUCK, ids=[f"{l}-{p}" for l, p in STUCK])
def test_a_stuck_process_is_named_then_the_job_ends(launcher, pause):
    flags = ["--mpi"] if launcher == "mpi" else ["--grace", 1]
    done, _ = spmd_run_command("-n", 2, *flags, "--cpu-devices", 2, script("stall_job.py"),
                               pause)
    ended = time.time()
    assert "[0] between processes over mpi\n" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    named = ("a collective between processes timed out: process 0 waited over 8 s for pmap of "
             "step (its call 5); processes [1] have not started it (process 1 ")
    assert f"[0] spmd: error: {named}" in done.stderr, done.stderr
    if pause == "stop":
        assert done.returncode != 0, done.stderr
        assert ended - paused_at(done.stdout) < 8 + 9, done.stderr
        return
    assert done.returncode == 1, done.stderr
    assert done.stderr.count(WARNING) == 1, done.stderr
    assert f"[0] spmd: error: {TIMED_OUT}" in done.stderr, done.stderr
    assert f"[1] spmd: error: process 1 ends with the job: {TIMED_OUT}" in done.stderr
    assert ended - paused_at(done.stdout) < 8 + 6, done.stderr


@pytest.mark.timeout(120)
def test_a_pause_shorter_than_the_timeout_is_waited_out():
    done, _ = spmd_run_command("-n", 2, "--cpu-devices", 2, script("stall_job.py"), 4)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("spmd: warning") == 1 and WARNING in done.stderr, done.stderr
    assert "[0] finished" in done.stdout and "[1] finished" in done.stdout, done.stdout
