"""pmap over the devices of several processes, started by each launcher (spmd-run's local
processes, mpiexec, Ray) on 127.0.0.1 with 1 or 2 devices per process.

scripts/pmap_multiprocess_job.py checks, on every process, every collective against NumPy on
the global input, the mapping options, spmd.distributed's helpers on pmap results, data-parallel
training against single-device training on the whole batch, collectives in loop bodies and
branches and over axis_index_groups across processes, and the errors for mismatched shapes or
programs (naming both sides). With an MPI world (mpiexec's, or
one formed through the coordinator) the collectives between processes go over MPI
(collectives/mpi_all_reduce.py, mpi_exchange.py: the job asserts which transport ran each),
and the same checks hold; the job also checks that such a job can be told to use gloo.
scripts/pmap_dies_mid_training.py kills process 1 in the middle of a training loop: the job
must fail, not hang."""
import os
import re
import time

import pytest

from spmd.cluster import netns
from spmd.pmap_agreement import program_digest
from tests.cluster.local_job import run_job
from tests.collectives.cases import CASES
from tests.collectives.transport_cases import expected_sites
from tests.launch.test_spmd_run import _alive, spmd_run_command

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")
FLAGS = {"local": [], "mpi": ["--mpi"], "ray": ["--ray"]}


def script(name: str) -> str:
    return os.path.join(SCRIPTS, name)


def _skip_without_private_network(launcher):
    if launcher == "ray":
        problem = netns.unshare_problem()
        if problem is not None:
            pytest.skip(f"a local Ray needs a private network namespace: {problem}")


# (launcher, processes, devices per process, transport between processes): 2 and 4 processes,
# 1 and 2 devices, each launcher (Ray's 2 x 2 job runs in tests/launch/test_spmd_run_ray.py and
# the example's tests; a local Ray costs about 30 s of the suite's 2 cores per job, so the
# collectives run on 4 x 1 only). mpiexec's jobs have MPI's world, the others form one through
# the coordinator (cluster/mpi_world.py) unless gloo is asked for, as the local 4 x 1 job does.
JOBS = [("local", 2, 2, "mpi"), ("local", 4, 1, "gloo"), ("mpi", 2, 1, "mpi"),
        ("mpi", 4, 2, "mpi"), ("ray", 4, 1, "mpi")]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("launcher,n,k,transport", JOBS,
                         ids=[f"{l}-{n}x{k}-{t}" for l, n, k, t in JOBS])
def test_pmap_across_processes(launcher, n, k, transport, monkeypatch):
    _skip_without_private_network(launcher)
    if transport == "gloo":
        monkeypatch.setenv("SPMD_CROSS_PROCESS_COLLECTIVES", "gloo")
    done, _ = spmd_run_command("-n", n, *FLAGS[launcher], "--cpu-devices", k,
                               script("pmap_multiprocess_job.py"), timeout=140)
    assert done.returncode == 0, done.stderr[-4000:]
    # the job asserts which transport ran each collective; here, that it counted them all
    whole = [(case, dtype, None) for case in CASES for dtype in case.dtypes]
    sites = sum(expected_sites(whole, True).values()) if transport == "mpi" else \
        sum(expected_sites(whole, False).values()) if k > 1 else 0
    for i in range(n):
        assert re.search(rf"^\[{i}\] process {i} of {n}: {n * k} devices, {k} local: all pmap "
                         rf"checks passed \(\d+ collective cases, {sites} through the "
                         rf"transport's callbacks; all-reduce between processes over "
                         rf"{transport}\)$", done.stdout, re.M), done.stdout[-3000:]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("launcher", ["local", "mpi", "no launcher"])
def test_a_process_killed_mid_training_fails_the_job(tmp_path, launcher):
    """Process 1 kills itself (SIGKILL) in a loop of pmap steps; the job ends non-zero within
    30 s of its death, and nothing of MPI's stays in /dev/shm. Without a launcher, the
    survivor's collective fails with a clear error (or the distributed runtime's heartbeats
    end it)."""
    if launcher == "no launcher":
        ended = run_job(script("pmap_dies_mid_training.py"), 2, tmp_path, timeout=80)
        finished = time.time()
        survivor, dead = ended
        assert dead.code == -9, dead.stderr[-2000:]
        assert survivor.code != 0, survivor.stdout
        assert ("a collective between them failed" in survivor.stderr
                or "another task died" in survivor.stderr), survivor.stderr[-3000:]
        outputs = survivor.stdout + dead.stdout
    else:
        done, _ = spmd_run_command("-n", 2, *FLAGS[launcher], "--cpu-devices", 1,
                                   script("pmap_dies_mid_training.py"), tmp_path, timeout=80)
        finished = time.time()
        assert done.returncode != 0, done.stderr[-3000:]
        outputs = done.stdout
    died_at = float((tmp_path / "died_at").read_text())
    assert finished - died_at < 30, finished - died_at
    # every launcher's job reduces over MPI (spmd-run's and a job by hand: a world formed
    # through the coordinator), where a dead peer breaks no connection: it must end all the same
    assert "process 0 is training (between processes over mpi)" in outputs, outputs
    assert "training finished" not in outputs, outputs
    survivor_pid = int((tmp_path / "0.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(survivor_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(survivor_pid)
    segments = [path for rank in (0, 1) if (tmp_path / f"{rank}.segments").exists()
                for path in (tmp_path / f"{rank}.segments").read_text().split()]
    assert segments and not any(os.path.exists(path) for path in segments), segments


def test_program_digest_ignores_constant_values_only():
    program = ('%v1 = "stablehlo.constant"() {value = dense<"0x00004040"> : tensor<f32>} : () '
               '-> (tensor<f32>)\n%v2 = "stablehlo.add"(%v1, %v1) : (tensor<f32>, tensor<f32>) '
               '-> (tensor<f32>)')
    other_constant = program.replace("0x00004040", "0x00008040")
    other_op = program.replace("stablehlo.add", "stablehlo.multiply")
    assert program_digest(program) == program_digest(other_constant)
    assert program_digest(program) != program_digest(other_op)
