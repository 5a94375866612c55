"""Which launcher started this process, read from its variables (no processes started)."""
import pytest

from spmd import cluster
from spmd.cluster import cluster_env, ray_env
from spmd.cluster.slurm_env import first_host
from spmd.cluster.spmd_run_env import job_environment


@pytest.fixture
def clean_env(monkeypatch):
    """No launcher's variables: each test sets only the ones it means."""
    for env in cluster.environments():
        for name in env.env_vars:
            monkeypatch.delenv(name, raising=False)
    ray_env.enter_job(None)
    yield monkeypatch
    ray_env.enter_job(None)


SLURM_STEP = {"SLURM_JOB_ID": "123456", "SLURM_PROCID": "5", "SLURM_NTASKS": "8",
              "SLURM_LOCALID": "1"}
SLURM_PORT = 65536 - 4096 + 2 * (123456 % 2048)  # even: the coordinator also serves the next

# (case, variables, environment name, process count, process id, local rank, coordinator)
# A coordinator of None is not asked here (MPI's is found by broadcast: tests/launch).
DETECTION = [
    ("spmd-run", {"SPMD_COORDINATOR": "127.0.0.1:4000", "SPMD_NUM_PROCESSES": "4",
                  "SPMD_PROCESS_ID": "2", "SPMD_LOCAL_RANK": "2"},
     "spmd-run", 4, 2, 2, "127.0.0.1:4000"),
    ("spmd-run without local rank", {"SPMD_COORDINATOR": "10.1.2.3:77", "SPMD_NUM_PROCESSES": "2",
                                     "SPMD_PROCESS_ID": "0"},
     "spmd-run", 2, 0, None, "10.1.2.3:77"),
    ("mpich hydra", {"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1"},
     "mpi", 4, 3, 1, None),
    ("open mpi", {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
                  "OMPI_COMM_WORLD_LOCAL_RANK": "0"}, "mpi", 2, 1, 0, None),
    ("slurm one node", {**SLURM_STEP, "SLURM_STEP_NUM_NODES": "1",
                        "SLURM_STEP_NODELIST": "gpu007"},
     "slurm", 8, 5, 1, f"127.0.0.1:{SLURM_PORT}"),
    ("slurm several nodes", {**SLURM_STEP, "SLURM_STEP_NUM_NODES": "2",
                             "SLURM_STEP_NODELIST": "gpu[007-008]"},
     "slurm", 8, 5, 1, f"gpu007:{SLURM_PORT}"),
    ("slurm job node list", {**SLURM_STEP, "SLURM_JOB_NUM_NODES": "3",
                             "SLURM_JOB_NODELIST": "a[1-2],b"},
     "slurm", 8, 5, 1, f"a1:{SLURM_PORT}"),
    ("spmd-run wins over mpi", {"SPMD_COORDINATOR": "127.0.0.1:9", "SPMD_NUM_PROCESSES": "2",
                                "SPMD_PROCESS_ID": "1", "PMI_RANK": "0", "PMI_SIZE": "2"},
     "spmd-run", 2, 1, None, "127.0.0.1:9"),
    ("mpi wins over slurm", {**SLURM_STEP, "PMI_RANK": "2", "PMI_SIZE": "3"},
     "mpi", 3, 2, None, None),
]


@pytest.mark.parametrize("case,variables,name,count,pid,local,coordinator", DETECTION,
                         ids=[c[0] for c in DETECTION])
def test_detection(clean_env, case, variables, name, count, pid, local, coordinator):
    for key, value in variables.items():
        clean_env.setenv(key, value)
    env = cluster.detect()
    assert env is not None and env.name == name
    assert (env.process_count(), env.process_id(), env.local_rank()) == (count, pid, local)
    if coordinator is not None:
        assert env.coordinator_address() == coordinator


# (case, variables, the job id that resolve() gives)
JOB_IDS = [
    ("spmd-run", {"SPMD_COORDINATOR": "127.0.0.1:4000", "SPMD_NUM_PROCESSES": "2",
                  "SPMD_PROCESS_ID": "1", "SPMD_JOB_ID": "4f2a"}, "4f2a"),
    ("by hand, no id", {"SPMD_COORDINATOR": "127.0.0.1:4000", "SPMD_NUM_PROCESSES": "2",
                        "SPMD_PROCESS_ID": "1"}, None),
    ("slurm step", {**SLURM_STEP, "SLURM_STEP_ID": "3", "SLURM_STEP_NUM_NODES": "1"},
     "slurm-123456.3"),
    ("slurm, SPMD_JOB_ID wins", {**SLURM_STEP, "SLURM_STEP_NUM_NODES": "1",
                                 "SPMD_JOB_ID": "mine"}, "mine"),
]


@pytest.mark.parametrize("case,variables,job_id", JOB_IDS, ids=[c[0] for c in JOB_IDS])
def test_job_id(clean_env, case, variables, job_id):
    for key, value in variables.items():
        clean_env.setenv(key, value)
    assert cluster.resolve(None, None, None, None).job_id == job_id


def test_neighbouring_slurm_jobs_do_not_share_a_port(clean_env):
    # the coordinator serves its port and the next: job N+1's must be neither of job N's
    ports = []
    for job in ("123456", "123457"):
        clean_env.setenv("SLURM_JOB_ID", job)
        for key, value in {**SLURM_STEP, "SLURM_STEP_NUM_NODES": "1"}.items():
            if key != "SLURM_JOB_ID":
                clean_env.setenv(key, value)
        ports.append(int(cluster.detect().coordinator_address().rpartition(":")[2]))
    assert ports[1] - ports[0] == 2


def test_spmd_run_gives_every_process_of_a_job_the_same_id():
    ids = {job_environment("127.0.0.1:1", 3, i)["SPMD_JOB_ID"] for i in range(3)}
    assert len(ids) == 1 and len(ids.pop()) >= 16


@pytest.mark.parametrize("variables", [
    {}, {"SPMD_COORDINATOR": "127.0.0.1:1", "SPMD_NUM_PROCESSES": "2"},  # no id
    {"PMI_RANK": "0"},  # no size
    {"SLURM_JOB_ID": "1", "SLURM_NTASKS": "4"},  # an allocation shell, not a task
], ids=["nothing", "spmd-run incomplete", "pmi incomplete", "slurm allocation"])
def test_no_environment(clean_env, variables):
    for key, value in variables.items():
        clean_env.setenv(key, value)
    assert cluster.detect() is None


def test_ray_worker_detected_from_the_job_it_entered(clean_env):
    ray_env.enter_job(ray_env.RayJob("127.0.0.1:5555", 3, 2))
    env = cluster.detect()
    assert env.name == "ray"
    assert (env.coordinator_address(), env.process_count(), env.process_id()) == \
        ("127.0.0.1:5555", 3, 2)


@pytest.mark.parametrize("nodelist,host", [
    ("node001", "node001"), ("node001,host2", "node001"), ("node[001-015],host2", "node001"),
    ("node[001,007-015],host2", "node001"), ("node[7,3]", "node7"),
    ("rack[2-3]-n[07,09],x", "rack2-n07"),
    ("n[1-2]-ib", "n1-ib"), ("a-b1", "a-b1"), (" gpu[010-011] ", "gpu010"),
])
def test_slurm_first_host(nodelist, host):
    assert first_host(nodelist) == host


@pytest.mark.parametrize("nodelist", ["", "node[001", ","])
def test_slurm_bad_node_list(nodelist):
    with pytest.raises(ValueError, match="Slurm node list"):
        first_host(nodelist)


def test_explicit_arguments_win(clean_env):
    clean_env.setenv("SPMD_COORDINATOR", "127.0.0.1:1000")
    clean_env.setenv("SPMD_NUM_PROCESSES", "4")
    clean_env.setenv("SPMD_PROCESS_ID", "3")
    spec = cluster.resolve("127.0.0.1:2000", None, 1, [0, 1])
    assert (spec.coordinator_address, spec.num_processes, spec.process_id,
            spec.local_device_ids, spec.environment) == ("127.0.0.1:2000", 4, 1, (0, 1), "spmd-run")
    spec = cluster.resolve("host:3", 2, 0, 5)
    assert (spec.num_processes, spec.process_id, spec.local_device_ids, spec.environment) == \
        (2, 0, (5,), "arguments")


RESOLVE_ERRORS = [
    ((None, 2, 0, None), ValueError, r"could not tell how this process was started.*"
                                      r"pass coordinator_address explicitly"),
    (("127.0.0.1:1", 2, 2, None), ValueError, r"process_id must be in \[0, 2\).*got 2"),
    (("127.0.0.1:1", 0, 0, None), ValueError, "num_processes must be at least 1, got 0"),
    (("127.0.0.1:1", 2.5, 0, None), TypeError, "num_processes must be an integer, got 2.5"),
    (("127.0.0.1", 2, 0, None), ValueError, "must look like 'host:port'.*got '127.0.0.1'"),
    (("127.0.0.1:99999", 2, 0, None), ValueError, "must look like 'host:port'"),
    (("127.0.0.1:1", 2, 0, ["a"]), TypeError, "local_device_ids entry must be an integer"),
]


@pytest.mark.parametrize("arguments,error,message", RESOLVE_ERRORS,
                         ids=[m[:30] for _, _, m in RESOLVE_ERRORS])
def test_resolve_errors(clean_env, arguments, error, message):
    with pytest.raises(error, match=message):
        cluster.resolve(*arguments)


def test_detection_method_by_name(clean_env):
    clean_env.setenv("PMI_RANK", "1")
    clean_env.setenv("PMI_SIZE", "2")
    assert cluster_env.resolve("127.0.0.1:1", None, None, None, "mpi").process_id == 1
    assert cluster_env.resolve("127.0.0.1:1", None, None, None, "mpi4py").process_id == 1  # JAX's
    with pytest.raises(ValueError, match=r"unknown cluster_detection_method 'lsf'; known"):
        cluster_env.resolve(None, None, None, None, "lsf")
    with pytest.raises(RuntimeError, match="was not started by slurm"):
        cluster_env.resolve(None, None, None, None, "slurm")


def test_a_variable_that_is_not_a_number(clean_env):
    clean_env.setenv("SPMD_COORDINATOR", "127.0.0.1:1")
    clean_env.setenv("SPMD_NUM_PROCESSES", "two")
    clean_env.setenv("SPMD_PROCESS_ID", "0")
    with pytest.raises(ValueError, match="environment variable SPMD_NUM_PROCESSES must be an "
                                         "integer, got 'two'"):
        cluster.resolve(None, None, None, None)
