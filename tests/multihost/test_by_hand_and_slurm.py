"""Jobs across the two simulated hosts, one process per host, started by hand (SPMD_* variables)
and as Slurm starts them (SLURM_* variables; the coordinator is the first node's name).

- The every-collective job (tests/spmd/scripts/pmap_multiprocess_job.py) passes its checks on
  both hosts, by hand over gloo (asked for; process 1 naming its network interface) and under
  Slurm over the MPI world its processes form through the coordinator.
- The training example, by hand and under Slurm across the hosts (MPI between them), ends
  with the parameters of one process that trains on the whole batch.
- On hosts whose own names resolve to 127.0.1.1 (Debian's /etc/hosts), a job whose coordinator
  is such a name fails at once on process 0, saying why and what to do, and the process on the
  other host says the likely cause while it waits, instead of a silent wait for the 300 s
  initialization timeout; with the coordinator bound to
  0.0.0.0 through SPMD_COORDINATOR_BIND (and process 0's address given) the same job runs.
"""
import concurrent.futures
import os
import subprocess
import sys
import textwrap
import time

import pytest

import simulated_hosts
from spmd.cluster import cluster_env
from spmd.cluster.slurm_env import SlurmEnv
from tests.multihost.example_on_hosts import (assert_ends_like_one_process, example_argv,
                                              ranks_hosts)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIVES_JOB = os.path.join(ROOT, "tests", "spmd", "scripts", "pmap_multiprocess_job.py")
# The variables that steer a job; the tests set the ones they mean.
STEERING = {name for env in cluster_env.environments() for name in env.env_vars} | {
    "SPMD_HOST_ADDRESS", "SPMD_HOST_INTERFACE", "SPMD_COORDINATOR_BIND", "SPMD_CPU_DEVICES"}
# A psum over both hosts; prints where it ran and what it got.
PSUM_JOB = textwrap.dedent("""
    import socket
    import sys
    import numpy as np
    import spmd
    from spmd import lax
    spmd.distributed.initialize(initialization_timeout=int(sys.argv[1]) if sys.argv[1:] else 300)
    x = np.full((spmd.local_device_count(), 2), spmd.process_index() + 1.0, np.float32)
    out = spmd.pmap(lambda v: lax.psum(v, "i"), "i")(x)
    print("psum", np.asarray(out)[0].tolist(), "on host", socket.gethostname(), flush=True)
""")


def _port(offset: int) -> int:
    # Each pytest worker has hosts of its own; distinct offsets keep one worker's jobs apart,
    # two ports each (the coordinator also answers on the next port).
    return 20000 + 2 * (os.getpid() % 10000 + offset)


def run_on_hosts(hosts, argv, variables, timeout, devices=1):
    """Process i of a job on hosts[i], with `variables[i]` (and nothing else that steers a
    job) set; every process's (exit code, stdout, stderr, seconds), or a failure naming those
    still running at `timeout`."""
    base = {k: v for k, v in os.environ.items() if k not in STEERING}
    base["SPMD_CPU_DEVICES"] = str(devices)
    start = time.monotonic()
    procs = [subprocess.Popen(host.command(argv), env={**base, **extra}, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for host, extra in zip(hosts, variables)]
    ended = []
    try:
        for i, p in enumerate(procs):
            left = max(0.1, timeout - (time.monotonic() - start))
            try:
                out, err = p.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                pytest.fail(f"process {i} of {argv} still running after {timeout} s")
            ended.append((p.returncode, out, err, time.monotonic() - start))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return ended


def by_hand(coordinator, count=2):
    return [{"SPMD_COORDINATOR": coordinator, "SPMD_NUM_PROCESSES": str(count),
             "SPMD_PROCESS_ID": str(i)} for i in range(count)]


def slurm(hosts, job_id):
    """The variables srun gives the tasks of a step of one task per node."""
    return [{"SLURM_JOB_ID": str(job_id), "SLURM_PROCID": str(i), "SLURM_NTASKS": "2",
             "SLURM_LOCALID": "0", "SLURM_NODEID": str(i), "SLURM_STEP_NUM_NODES": "2",
             "SLURM_STEP_NODELIST": ",".join(h.name for h in hosts)} for i in range(2)]


def assert_collectives_passed(ended, hosts, devices, transport):
    for i, (code, out, err, _) in enumerate(ended):
        assert code == 0, err[-4000:]
        assert (f"process {i} of 2: {2 * devices} devices, {devices} local: all pmap checks "
                f"passed" in out), out[-2000:]
        assert f"all-reduce between processes over {transport})" in out, out[-2000:]
        assert f"process {i} ran on host {hosts[i].name}" in out, out[-2000:]


@pytest.mark.timeout(120)
def test_every_collective_by_hand(hosts):
    a, b = hosts
    variables = by_hand(f"{a.address}:{_port(0)}")
    variables[1]["SPMD_HOST_INTERFACE"] = b.interface  # gloo takes the interface's address
    for v in variables:  # gloo between the hosts, as without mpi4py (Slurm's job has MPI)
        v["SPMD_CROSS_PROCESS_COLLECTIVES"] = "gloo"
    ended = run_on_hosts(hosts, [sys.executable, COLLECTIVES_JOB], variables, 110, devices=2)
    assert_collectives_passed(ended, hosts, devices=2, transport="gloo")


@pytest.mark.timeout(120)
def test_every_collective_under_slurm(hosts, monkeypatch):
    job_id = _port(1)
    variables = slurm(hosts, job_id)
    for name, value in variables[0].items():  # the coordinator Slurm's tasks will derive
        monkeypatch.setenv(name, value)
    assert SlurmEnv.coordinator_address().startswith(f"{hosts[0].name}:")
    ended = run_on_hosts(hosts, [sys.executable, COLLECTIVES_JOB], variables, 110)
    assert_collectives_passed(ended, hosts, devices=1, transport="mpi")


@pytest.mark.timeout(150)
def test_training_example_by_hand_equals_one_process(hosts, tmp_path, single_process_training):
    across = tmp_path / "across"
    ended = run_on_hosts(hosts, [sys.executable, *example_argv(across)],
                         by_hand(f"{hosts[0].name}:{_port(2)}"), 140, devices=4)
    assert_example_ran_on_each_host(ended, hosts, devices=4)
    assert_ends_like_one_process(across, single_process_training)


@pytest.mark.timeout(90)
def test_training_example_under_slurm_equals_one_process(hosts, tmp_path,
                                                         single_process_training):
    across = tmp_path / "across"
    ended = run_on_hosts(hosts, [sys.executable, *example_argv(across)], slurm(hosts, _port(6)),
                         80, devices=2)
    assert_example_ran_on_each_host(ended, hosts, devices=2)
    assert_ends_like_one_process(across, single_process_training)


def assert_example_ran_on_each_host(ended, hosts, devices):
    for code, _, err, _ in ended:
        assert code == 0, err[-3000:]
    output = "".join(out for _, out, _, _ in ended)
    where = ranks_hosts(output, devices, transport="mpi")  # a world formed through the coordinator
    assert where == {0: hosts[0].name, 1: hosts[1].name}, where


# ---------------------------------------------------------------- own names on 127.0.1.1
@pytest.fixture(scope="module")
def debian_hosts():
    """Two simulated hosts whose hosts files map each one's own name to 127.0.1.1."""
    reason = simulated_hosts.skip_reason()
    if reason:
        pytest.skip(reason)
    pair = simulated_hosts.HostPair.create(own_name_on_loopback=True)
    yield pair.hosts
    pair.remove()


# process 1's initialization timeout: above the 10 s after which it says the likely cause
LOOPBACK_TIMEOUT = 30


@pytest.mark.timeout(120)
def test_a_loopback_coordinator_name_fails_at_once_and_the_others_say_why(debian_hosts):
    # Each job's process 1 waits out its initialization timeout; the jobs by hand and under
    # Slurm (each with ports of its own) run side by side, so the suite waits for one timeout.
    a, b = debian_hosts
    jobs = {"by hand": by_hand(f"{a.name}:{_port(3)}"), "slurm": slurm(debian_hosts, _port(4))}
    # both processes may wait LOOPBACK_TIMEOUT s for the job to assemble; process 1 cannot see
    # the problem from its host
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        running = {launcher: pool.submit(run_on_hosts, debian_hosts, [
            sys.executable, "-c", PSUM_JOB, str(LOOPBACK_TIMEOUT)], variables, 100)
            for launcher, variables in jobs.items()}
        for launcher, job in running.items():
            assert_loopback_name_refused(job.result(), a, launcher)


def assert_loopback_name_refused(ended, a, launcher):
    (code0, out0, err0, seconds0), (code1, out1, err1, seconds1) = ended
    assert code0 != 0 and "psum" not in out0, (launcher, out0, err0[-2000:])
    # at once (start-up included), not at its timeout
    assert seconds0 < LOOPBACK_TIMEOUT - 5, (launcher, seconds0)
    said = " ".join(err0.split())
    assert f"the coordinator's host name '{a.name}' resolves to 127.0.1.1 (loopback)" in said, \
        (launcher, err0[-2000:])
    assert "/etc/hosts" in said and "set SPMD_COORDINATOR to an address" in said, said
    assert "SPMD_HOST_ADDRESS" in said, said
    # process 1 resolves the name to host 1's real address: after 10 s of waiting it
    # says what the likely cause is, and fails at its timeout naming the address
    said = " ".join(err1.split())
    assert code1 != 0 and LOOPBACK_TIMEOUT - 1 < seconds1 < LOOPBACK_TIMEOUT + 30, \
        (launcher, code1, seconds1)
    assert (f"still waiting after 10 s for the spmd coordinator at {a.name}:" in said
            and f"({a.name} is {a.address} here)" in said
            and "127.0.1.1 in /etc/hosts" in said), (launcher, said)
    assert f"could not reach the spmd coordinator at {a.name}:" in said, (launcher, said)


@pytest.mark.timeout(60)
def test_a_coordinator_bound_to_all_interfaces_serves_the_other_hosts(debian_hosts):
    """The workaround the error names: process 0 listens on 0.0.0.0 (SPMD_COORDINATOR_BIND)
    and advertises its address; the other host connects by the name, to the real address."""
    a, b = debian_hosts
    variables = slurm(debian_hosts, _port(5))
    variables[0].update(SPMD_COORDINATOR_BIND="0.0.0.0", SPMD_HOST_ADDRESS=a.address)
    ended = run_on_hosts(debian_hosts, [sys.executable, "-c", PSUM_JOB], variables, 50)
    for host, (code, out, err, _) in zip(debian_hosts, ended):
        assert code == 0, err[-3000:]
        assert f"psum [3.0, 3.0] on host {host.name}" in out, out  # 1 + 2 over the hosts
