"""MPI worlds formed through the coordinator (cluster/mpi_world.py) by real processes of jobs
started by hand (no mpiexec): scripts/mpi_world_job.py prints what each process finds. Two
jobs run at once in each test (they must keep separate worlds; and it halves the time)."""
import os
import re
import time

import pytest

from tests.cluster.local_job import start_job, wait_job

pytest.importorskip("mpi4py")


def run_at_once(*jobs: tuple[tuple, dict]) -> list[list]:
    """Run jobs of 2 processes of mpi_world_job.py at the same time: (args, environment)."""
    start = time.monotonic()
    started = [start_job("mpi_world_job.py", 2, *args, extra_env=env) for args, env in jobs]
    return [wait_job(procs, start, 90, "mpi_world_job.py") for procs in started]


def facts(ended) -> dict[str, str]:
    assert ended.code == 0, ended.stderr[-3000:]
    return dict(line.split(" ", 1) for line in ended.stdout.splitlines())


@pytest.mark.timeout(120)
def test_two_jobs_at_once_each_form_their_own_world_and_leave_nothing_behind():
    jobs = run_at_once(((), {}), ((), {}))
    segments = []
    for job in jobs:
        found = [facts(process) for process in job]
        for rank, fact in enumerate(found):
            assert fact["world"] == f"rank {rank} of 2 sum 11", fact  # 10**0 + 10**1
            assert fact["psum"] == "[[11.0, 11.0]] over mpi"
            assert fact["warnings"] == "[]"
            # MPICH's variables existed only during MPI_Init: no child thinks mpiexec ran it
            assert fact["environment"] == fact["child_environment"] == "[]"
        assert found[0]["segments"] == found[1]["segments"]  # one world: one shared segment
        segments.append(found[0]["segments"])
    # the name is gone as soon as every rank mapped it: nothing stays in /dev/shm however the
    # job ends (a rank killed before MPICH's finalize would leave it there until reboot)
    assert segments[0] != segments[1] and all(re.fullmatch(r"/dev/shm/mpich_\S+ \(deleted\)", s)
                                              for s in segments), segments
    assert not any(os.path.exists(s.split()[0]) for s in segments), segments


@pytest.mark.timeout(120)
def test_no_world_when_gloo_is_asked_for_or_a_process_cannot_join():
    asked_gloo, cannot_join = run_at_once(((), {"SPMD_CROSS_PROCESS_COLLECTIVES": "gloo"}),
                                          (("mpi4py-first",), {}))
    for process in asked_gloo:
        fact = facts(process)
        assert (fact["world"], fact["warnings"]) == ("none", "[]"), fact
        assert fact["psum"] == "[[11.0, 11.0]] over gloo"
    # one warning for the job (process 0's), naming the process and why; gloo carries on
    warned, quiet = (facts(process) for process in cannot_join)
    assert re.fullmatch(r"\[\"spmd: this job's processes could not form an MPI world \(process "
                        r"1: MPI is already initialized in this process \(the script imported "
                        r"mpi4py\.MPI before spmd\.distributed\.initialize\(\); import it "
                        r"after\)\), so pmap's collectives between processes go over gloo, "
                        r"which is slower\. Set cross_process_collectives='gloo' .*\"\]",
                        warned["warnings"]), warned["warnings"]
    assert quiet["warnings"] == "[]"
    for fact in (warned, quiet):
        assert fact["world"] == "none" and fact["psum"] == "[[11.0, 11.0]] over gloo", fact
