"""spmd-run --hosts / --hostfile on the two simulated hosts, started on host 1 (so that "this
machine" is host 1), with fake_ssh.py standing in for ssh: over ssh (gloo carries the
collectives) and through Hydra (MPI carries the all-reduces). Each job's ranks say which host
they ran on (scripts/on_host.py). The training example, either way, ends with the parameters
of one process that trains on the whole batch."""
import os
import re
import subprocess
import sys
import time

import pytest

from tests.launch.test_spmd_run import _alive
from tests.multihost.example_on_hosts import (ON_HOST, assert_ends_like_one_process,
                                              example_argv, ranks_hosts)
from tests.multihost.fake_ssh import HOSTS, LOG, hosts_variable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(ROOT, "tests", "spmd", "scripts", "pmap_multiprocess_job.py")
DIES = os.path.join(ROOT, "tests", "launch", "scripts", "die_after_start.py")


def spmd_run_on_host1(hosts, tmp_path, *args, timeout=100):
    """spmd-run started on host 1, with the stand-in ssh (its calls logged to tmp_path)."""
    env = {**os.environ, HOSTS: hosts_variable(hosts), LOG: str(tmp_path / "ssh.log"),
           "SPMD_SSH": f"{sys.executable} {os.path.join(HERE, 'fake_ssh.py')} -o BatchMode=yes"}
    start = time.monotonic()
    done = subprocess.run(hosts[0].command([sys.executable, "-m", "spmd.launch",
                                            *map(str, args)]),
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return done, time.monotonic() - start


def ssh_calls(tmp_path) -> list[str]:
    log = tmp_path / "ssh.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("launcher,k", [("ssh", 2), ("mpi", 1)])
def test_every_collective_across_the_hosts(hosts, tmp_path, launcher, k):
    a, b = hosts
    flags = ["--mpi"] if launcher == "mpi" else []
    done, _ = spmd_run_on_host1(hosts, tmp_path, "-n", 2, *flags, "--cpu-devices", k,
                                "--hosts", f"{a.name},{b.name}", ON_HOST, JOB)
    assert done.returncode == 0, done.stderr[-4000:]
    tcp = "self,sm,cma,tcp" if launcher == "mpi" else "None"  # UCX may cross the hosts
    for rank, host in enumerate(hosts):
        assert (f"[{rank}] rank {rank} runs on host {host.name} as local rank 0, UCX_TLS={tcp}"
                in done.stdout), done.stdout[-3000:]
        # MPI either way: mpiexec's world, or one the processes formed through the coordinator
        assert (f"[{rank}] process {rank} of 2: {2 * k} devices, {k} local: all pmap checks "
                f"passed" in done.stdout and "between processes over mpi)"
                in done.stdout), done.stdout[-3000:]
    # host 1's rank started directly, host 2's through the stand-in (Hydra's proxy under --mpi)
    calls = ssh_calls(tmp_path)
    assert len(calls) == 1 and f"| {b.name} |" in calls[0], calls
    assert ("hydra_pmi_proxy" if launcher == "mpi" else "spmd.launch.ssh_launch") in calls[0]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("launcher", ["ssh", "mpi"])
def test_training_example_across_the_hosts_equals_one_process(hosts, tmp_path, launcher,
                                                              single_process_training):
    a, b = hosts
    flags = ["--mpi"] if launcher == "mpi" else []
    across = tmp_path / "across"
    done, _ = spmd_run_on_host1(hosts, tmp_path, "-n", 2, *flags, "--cpu-devices", 2,
                                "--hosts", f"{a.name},{b.name}", *example_argv(across),
                                timeout=80)
    assert done.returncode == 0, done.stderr[-4000:]
    where = ranks_hosts(done.stdout, 2, transport="mpi")  # a world formed or mpiexec's
    assert where == {0: a.name, 1: b.name}, where
    assert_ends_like_one_process(across, single_process_training)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("launcher", ["ssh", "mpi"])
def test_a_hostfile_with_slots_lays_ranks_out_host_by_host(hosts, tmp_path, launcher):
    a, b = hosts
    hostfile = tmp_path / "hosts"
    hostfile.write_text(f"# the simulated hosts\n\n{a.name} slots=1\n{b.name}:2  # two\n")
    flags = ["--mpi"] if launcher == "mpi" else []
    done, _ = spmd_run_on_host1(hosts, tmp_path, "-n", 3, *flags, "--hostfile", hostfile,
                                ON_HOST)
    assert done.returncode == 0, done.stderr
    for rank, host, local in ((0, a, 0), (1, b, 0), (2, b, 1)):
        assert f"[{rank}] rank {rank} runs on host {host.name} as local rank {local}," \
            in done.stdout, done.stdout


@pytest.mark.timeout(90)
@pytest.mark.parametrize("order", ["remote dies", "local dies"])
def test_a_dead_rank_ends_the_job_on_both_hosts(hosts, tmp_path, order):
    """Rank 1 exits with code 3 once rank 0 is up: on host 2 (over ssh), or on host 1 while
    rank 0 runs on host 2 (whose coordinator port is asked over ssh); the job ends within
    seconds and rank 0, local or remote, is stopped."""
    a, b = hosts
    first, second = (a, b) if order == "remote dies" else (b, a)
    done, seconds = spmd_run_on_host1(hosts, tmp_path, "-n", 2, "--grace", 1, "--hosts",
                                      f"{first.name},{second.name}", DIES, tmp_path, "plain")
    assert done.returncode == 3 and seconds < 40, (done.returncode, seconds, done.stderr)
    assert (f"spmd-run: process 1 on {second.name} exited with code 3; stopping the other 1 "
            f"process(es)") in done.stderr, done.stderr
    survivor = int((tmp_path / "0.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(survivor) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(survivor)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("hosts_option,extra,message", [
    ("{a}:1,{b}:1", ["-n", "3"], r"-n 3 needs 3 slots, but the hosts have 2: {a} \(1\), "
                                 r"{b} \(1\); add hosts or slots"),
    ("{a},nosuchhost", ["-n", "2"], r"spmd-run: unknown host 'nosuchhost' in the host list: it "
                                    r"does not resolve"),
    ("{a},{b}", ["-n", "2", "--ray"], r"--hosts does not apply to --ray: the Ray cluster "
                                      r"places the processes on its nodes"),
], ids=["too few slots", "unknown host", "with --ray"])
def test_host_list_errors(hosts, tmp_path, hosts_option, extra, message):
    names = {"a": hosts[0].name, "b": hosts[1].name}
    done, seconds = spmd_run_on_host1(hosts, tmp_path, *extra, "--hosts",
                                      hosts_option.format(**names), ON_HOST, timeout=30)
    assert done.returncode != 0 and seconds < 20
    assert re.search(message.format(**names), done.stderr), done.stderr
    assert ssh_calls(tmp_path) == []  # nothing was started
