"""How a job ends (issue 14, part 7, and the launcher's part of 6): the status of the process
whose failure the others followed, nothing of MPICH left in /dev/shm, a mistyped Ray address
or a stale MPI environment failing at once with a clear message."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from spmd.launch import main as spmd_run
from spmd.launch.mpi_segments import SHM
from spmd.launch.native_log import NativeLogCondenser
from test_spmd_run import _alive, script, spmd_run_command
from test_spmd_run_ray import needs_private_network


def mpich_segments() -> set[str]:
    return {name for name in os.listdir(SHM) if name.startswith("mpich_")}


@pytest.mark.timeout(90)
def test_the_first_failure_is_reported_with_its_own_code():
    # process 1's sys.exit(3) closes its gloo connections; process 0's psum fails at once with
    # status 1, often before process 1's exit is seen
    done, seconds = spmd_run_command("-n", 2, "--cpu-devices", 1,
                                     script("fail_in_training.py"), "exit")
    assert done.returncode == 3, done.stderr
    assert "spmd-run: process 1 exited with code 3" in done.stderr, done.stderr
    assert "spmd-run: process 0 exited" not in done.stderr, done.stderr


@pytest.mark.timeout(90)
def test_a_lost_coordinator_is_one_line_not_a_page_of_cpp_logging():
    done, _ = spmd_run_command("-n", 2, "--grace", 20, "--cpu-devices", 1,
                               script("fail_in_training.py"), "kill0")
    assert done.returncode == 128 + signal.SIGKILL, done.stderr
    assert "spmd-run: process 0 was killed by signal SIGKILL" in done.stderr, done.stderr
    # process 1 ends either through the coordination service (jaxlib aborts it) or through
    # its own psum's error; either way, no C++ log
    assert "Check failure stack trace" not in done.stderr, done.stderr
    assert not re.search(r"^\[1\] [EF]\d{4} ", done.stderr, re.M), done.stderr
    if "SIGABRT" in done.stderr:
        assert ("[1] spmd: process 1 ended: the JAX distributed service detected fatal errors ("
                in done.stderr), done.stderr


def test_the_fatal_cpp_log_condenses_to_one_line():
    log = [b"E1207 17:21:38.721183    1358 coordination_service_agent.cc:289] Polled an error "
           b"from coordination service (this can be an error from this or another task).\n",
           b"F1207 17:21:38.721272    1358 client.h:80] Terminating process because the JAX "
           b"distributed service detected fatal errors. This most likely indicates that another "
           b"task died; see the other task logs. absl::Status: UNAVAILABLE: Failed to send RPC "
           b"to coordination service. Either the leader task was preempted.\n",
           b"Additional GRPC error information from remote target coordination_service:\n",
           b':UNKNOWN:Error received from peer  {grpc_status:14, grpc_message:"Socket closed"}\n',
           b"Traceback (most recent call last):\n",
           b"*** Check failure stack trace: ***\n",
           b"    @     0x7f3521640634  absl::log_internal::LogMessage::SendToLog()\n",
           b"    @     0x7f35306a71f5  (unknown)\n",
           b"W1207 17:21:38.7 12 network_util.cc:330] a warning stays\n"]
    condenser = NativeLogCondenser(1)
    out = [line for raw in log for line in condenser.feed(raw)] + condenser.close()
    assert out == [b"spmd: process 1 ended: the JAX distributed service detected fatal errors "
                   b"(UNAVAILABLE: Failed to send RPC to coordination service; Socket closed). "
                   b"This most likely indicates that another task died\n",
                   b"Traceback (most recent call last):\n", log[-1]]


@pytest.mark.timeout(90)
def test_a_killed_mpi_rank_leaves_no_shared_memory_behind():
    before = mpich_segments()
    done, _ = spmd_run_command("-n", 2, "--mpi", "--cpu-devices", 1,
                               script("fail_in_training.py"), "kill")
    assert done.returncode != 0, done.stderr
    assert "spmd-run: mpiexec exited with code 9" in done.stderr, done.stderr
    assert mpich_segments() <= before  # other jobs' segments may come and go meanwhile


@pytest.mark.timeout(90)
def test_an_interrupted_mpi_job_leaves_no_shared_memory_behind(tmp_path):
    before = mpich_segments()
    run = subprocess.Popen([sys.executable, "-m", "spmd.launch", "-n", "2", "--mpi",
                            "--cpu-devices", "1", script("fail_in_training.py"), "wait",
                            str(tmp_path)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "1.ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ours = mpich_segments() - before
    assert ours, "the job's ranks have no MPICH segment: nothing is tested"
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 128 + signal.SIGINT, run.stderr.read()
    assert not ours & mpich_segments()


def network_namespace(pid: int) -> dict[int, str]:
    """The processes in `pid`'s network namespace, with their command lines."""
    mine = os.readlink(f"/proc/{pid}/ns/net")
    found = {}
    for other in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{other}/ns/net") == mine:
                with open(f"/proc/{other}/cmdline", "rb") as f:
                    found[int(other)] = f.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


@needs_private_network
@pytest.mark.timeout(120)
def test_a_killed_ray_driver_takes_its_ranks_and_ray_with_it(tmp_path):
    driver = subprocess.Popen([sys.executable, "-m", "spmd.launch", "-n", "2", "--ray",
                               "--cpu-devices", "1", script("train_with_pid.py"), str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    ranks = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(ranks) == 2, driver.stderr.read() if driver.poll() is not None else "no ranks"
    job = network_namespace(driver.pid)  # spmd-run execs into its private namespace
    assert any("raylet" in command for command in job.values()), job
    temp_dir = next(command.split()[-1] for command in job.values()
                    if "spmd.launch.ray_watchdog" in command)
    assert os.path.isdir(temp_dir)
    driver.kill()
    driver.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, ranks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, ranks)), "the ranks outlived their driver by 5 s"
    deadline = time.monotonic() + 5
    while any(map(_alive, job)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [job[p] for p in job if _alive(p)]
    assert not os.path.exists(temp_dir)


@pytest.mark.parametrize("grace", ["nan", "inf", "-1"])
def test_a_grace_that_never_ends_or_is_negative_is_refused(tmp_path, monkeypatch, capsys, grace):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.py").write_text("")
    with pytest.raises(SystemExit):
        spmd_run.parse(["-n", "2", "--grace", grace, "s.py"])
    assert f"--grace must be a number of seconds, 0 or more, got {float(grace)}" \
        in capsys.readouterr().err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("address,said", [
    ("127.0.0.1:1", "connecting to 127.0.0.1 port 1 failed (Connection refused)"),
    ("ray://127.0.0.1:1", "connecting to 127.0.0.1 port 1 failed (Connection refused)"),
    ("no-such-host.invalid:6379", "cannot resolve host 'no-such-host.invalid'"),
])
def test_a_mistyped_ray_address_fails_at_once_naming_it(address, said):
    done, seconds = spmd_run_command("-n", 2, "--ray", address, script("job_check.py"), 2, 1)
    assert done.returncode == 1 and seconds < 30, (seconds, done.stderr)
    assert f"spmd-run: --ray {address}: no Ray cluster there: {said}" in done.stderr, done.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fd,found", [(None, "neither PMI_FD nor PMI_PORT"),
                                      ("9", "PMI_FD=9, which is not an open socket")])
def test_stale_mpi_variables_without_a_process_manager_are_an_error(fd, found):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPMD_", "PMI_"))}
    env.update(PMI_RANK="0", PMI_SIZE="2", **({"PMI_FD": fd} if fd else {}))
    done = subprocess.run([sys.executable, "-c", "import spmd; spmd.distributed.initialize()"],
                          capture_output=True, text=True, timeout=50, env=env)
    assert done.returncode == 1
    assert (f"RuntimeError: PMI_RANK=0 and PMI_SIZE=2 are set, but no MPI process manager "
            f"started this process ({found}): the variables are stale") in done.stderr, \
        done.stderr
