"""spmd-run --ray on a two-node Ray cluster over the simulated hosts: the head on host 1, a
worker node on host 2, token authentication on. One cluster for the module (a node takes 5-10 s
to start on two busy cores); its processes are ours, stopped by pid (never `ray stop`, which
would stop every Ray on the machine).

The every-collective job runs with one rank per node (--ray-spread), started from a folder of
its own by a relative path: the ranks must run on different hosts, in the copy of that folder
that Ray unpacked (runtime_env working_dir), with a variable only the driver had (env_vars), and
reduce between processes over MPI (a world formed through the coordinator); so must the
training example's, which ends with the parameters of one process that trains on the whole
batch. The same through the Python API
(run_on_ray with strategy="STRICT_SPREAD" and a working_dir holding a module the function
imports). Then the errors: more ranks than nodes for one per node, and a driver without the
cluster's token."""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from tests.multihost.example_on_hosts import (assert_ends_like_one_process, example_argv,
                                              ranks_hosts)

# Ray's command under this very interpreter (the `ray` script's shebang may name another venv)
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]
PORT = 6390  # inside host 1's namespace, which this test worker alone uses
TOKEN = secrets.token_hex(16)
PMAP_JOB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "spmd",
                        "scripts", "pmap_multiprocess_job.py")
# Says where it runs, then runs the job named by its first argument as its own main script.
WHERE_JOB = textwrap.dedent("""
    import os, runpy, socket, sys
    print(f"on {socket.gethostname()} in {os.getcwd()} "
          f"with SPMD_TEST_FROM_DRIVER={os.environ.get('SPMD_TEST_FROM_DRIVER')}", flush=True)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
""")


def _ray_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0", **extra}


def _run_on(host, argv, env, timeout, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(host.command(argv), capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


class RayCluster:
    def __init__(self, hosts):
        self.head, self.worker = hosts
        self.address = f"{self.head.address}:{PORT}"
        self.env = _ray_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
        self.temp = tempfile.mkdtemp(prefix="spmd-rayhosts-")  # short: Ray's socket paths
        self.nodes: list[subprocess.Popen] = []

    def start(self):
        common = ["--block", "--num-cpus=1", "--disable-usage-stats"]
        self._start_node(self.head, ["--head", f"--port={PORT}", "--include-dashboard=false",
                                     f"--temp-dir={self.temp}/ray", *common], "head")
        self._wait_for_nodes(1)
        self._start_node(self.worker, [f"--address={self.address}", *common], "worker")
        self._wait_for_nodes(2)

    def _start_node(self, host, args, label):
        log = open(os.path.join(self.temp, f"{label}.log"), "w")
        self.nodes.append(subprocess.Popen(
            host.command([*RAY, "start", f"--node-ip-address={host.address}", *args]),
            env=self.env, stdout=log, stderr=subprocess.STDOUT))
        log.close()

    def _wait_for_nodes(self, count):
        """Until the head counts `count` live nodes (a driver on host 1 asks it)."""
        probe = textwrap.dedent(f"""
            import time, ray
            deadline = time.monotonic() + 90
            while True:
                try:
                    ray.init(address="{self.address}", logging_level="ERROR")
                    break
                except ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            while sum(n["Alive"] for n in ray.nodes()) < {count}:
                assert time.monotonic() < deadline, ray.nodes()
                time.sleep(0.5)
        """)
        done = _run_on(self.head, [sys.executable, "-c", probe], self.env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:] + self.logs()

    def logs(self) -> str:
        return "".join(f"\n--- {name}\n" + open(os.path.join(self.temp, name)).read()[-2000:]
                       for name in ("head.log", "worker.log")
                       if os.path.exists(os.path.join(self.temp, name)))

    def stop(self):
        for node in reversed(self.nodes):
            node.terminate()  # `ray start --block` stops the node's processes on SIGTERM
        for node in self.nodes:
            try:
                node.wait(timeout=40)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster(hosts):
    cluster = RayCluster(hosts)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def spmd_run(cluster, args, env, timeout, cwd=None):
    return _run_on(cluster.head, [sys.executable, "-m", "spmd.launch", *map(str, args)], env,
                   timeout, cwd)


@pytest.mark.timeout(240)
def test_one_rank_per_host_with_the_drivers_folder_and_variables(ray_cluster, tmp_path):
    folder = tmp_path / "job"  # the script's folder; the ranks must get a copy of it
    folder.mkdir()
    (folder / "where.py").write_text(WHERE_JOB)
    marker = f"driver-{os.getpid()}"
    done = spmd_run(ray_cluster, ["-n", 2, "--ray", ray_cluster.address, "--ray-spread",
                                  "--cpu-devices", 2, "where.py", PMAP_JOB],
                    {**ray_cluster.env, "SPMD_TEST_FROM_DRIVER": marker}, timeout=200,
                    cwd=folder)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    where = dict(re.findall(r"^\[(\d)\] on (\S+ in \S+ with \S+)$", done.stdout, re.M))
    assert sorted(where) == ["0", "1"], done.stdout[-3000:]
    hosts = sorted(where[r].split()[0] for r in "01")
    assert hosts == sorted(h.name for h in (ray_cluster.head, ray_cluster.worker))
    for rank in "01":
        _, _, cwd, _, variable = where[rank].split()
        assert cwd != str(folder) and "/working_dir_files/" in cwd, cwd  # Ray's copy
        assert variable == f"SPMD_TEST_FROM_DRIVER={marker}"
        assert (f"[{rank}] process {rank} of 2: 4 devices, 2 local: all pmap checks passed"
                in done.stdout), done.stdout[-3000:]
    assert done.stdout.count("all-reduce between processes over mpi)") == 2


@pytest.mark.timeout(120)
def test_training_example_one_rank_per_host_equals_one_process(ray_cluster, tmp_path,
                                                               single_process_training):
    folder = tmp_path / "job"  # the driver's (empty) folder, which Ray sends to the ranks
    folder.mkdir()
    across = tmp_path / "across"
    done = spmd_run(ray_cluster, ["-n", 2, "--ray", ray_cluster.address, "--ray-spread",
                                  "--cpu-devices", 2, *example_argv(across)],
                    ray_cluster.env, timeout=110, cwd=folder)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    where = ranks_hosts(done.stdout, 2, transport="mpi")  # the world formed through the coordinator
    assert sorted(where.values()) == sorted(h.name for h in (ray_cluster.head,
                                                             ray_cluster.worker)), where
    assert_ends_like_one_process(across, single_process_training)


# A driver for run_on_ray; the function it runs imports `shipped`, which only the working_dir
# sent with the job has (the driver's folder is not on the workers' path).
RUN_ON_RAY_DRIVER = textwrap.dedent("""
    import json, sys
    from spmd.cluster.ray_pool import run_on_ray

    def job():
        import os, socket
        import numpy as np
        import spmd
        import shipped
        spmd.distributed.initialize()
        total = spmd.distributed.process_allgather(np.float32(spmd.process_index() + 1))
        return [socket.gethostname(), spmd.process_index(), total.tolist(), shipped.VALUE,
                os.environ.get("SPMD_TEST_FROM_DRIVER")]

    print(json.dumps(run_on_ray(job, 2, address=sys.argv[1], strategy="STRICT_SPREAD",
                                working_dir=sys.argv[2])))
""")


@pytest.mark.timeout(120)
def test_run_on_ray_one_worker_per_host(ray_cluster, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "shipped.py").write_text("VALUE = 'from the working_dir'\n")
    (tmp_path / "driver.py").write_text(RUN_ON_RAY_DRIVER)
    done = _run_on(ray_cluster.head, [sys.executable, str(tmp_path / "driver.py"),
                                      ray_cluster.address, str(shipped)],
                   {**ray_cluster.env, "SPMD_TEST_FROM_DRIVER": "yes"}, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(r[0] for r in results) == sorted(h.name for h in (ray_cluster.head,
                                                                    ray_cluster.worker))
    assert [r[1:] for r in results] == [[i, [1.0, 2.0], "from the working_dir", "yes"]
                                        for i in range(2)]


@pytest.mark.timeout(90)
def test_more_ranks_than_nodes_for_one_rank_per_node(ray_cluster, tmp_path):
    (tmp_path / "nothing.py").write_text("")
    start = time.monotonic()
    done = spmd_run(ray_cluster, ["-n", 3, "--ray", ray_cluster.address, "--ray-spread",
                                  "nothing.py"], ray_cluster.env, timeout=80, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    head, worker = sorted((ray_cluster.head.address, ray_cluster.worker.address))
    assert re.search(rf"spmd-run: one process per node \(placement strategy STRICT_SPREAD\) "
                     rf"needs 3 nodes with a free CPU, but the Ray cluster has 2: {head}, "
                     rf"{worker}\. Start more nodes.*InvalidAuthToken.*RAY_AUTH_MODE=token",
                     done.stderr), done.stderr[-3000:]
    assert time.monotonic() - start < 60


@pytest.mark.timeout(90)
def test_a_driver_without_the_clusters_token_is_refused(ray_cluster, tmp_path):
    """Without RAY_AUTH_MODE=token (as a node joined without it) the head answers
    InvalidAuthToken; Ray retries for 20 s by default (shortened here), then says only that it
    could not connect."""
    (tmp_path / "nothing.py").write_text("")
    done = spmd_run(ray_cluster, ["-n", 2, "--ray", ray_cluster.address, "nothing.py"],
                    _ray_env(RAY_gcs_server_port_wait_time_s="2"), timeout=80, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert re.search(rf"spmd-run: the Ray cluster at {re.escape(ray_cluster.address)} refused "
                     r"this driver's authentication \(InvalidAuthToken\): it runs with token "
                     r"authentication, and this process \(RAY_AUTH_MODE=unset\) sent no token or "
                     r"a different one\. Run it with RAY_AUTH_MODE=token and the cluster's token, "
                     r"as RAY_AUTH_TOKEN=<token> or RAY_AUTH_TOKEN_PATH=", done.stderr), \
        done.stderr[-3000:]
