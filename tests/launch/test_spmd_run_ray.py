"""spmd-run --ray: on a local Ray instance in a private network namespace (spmd-run re-executes
itself in one), and on a running cluster given by address; one actor per process. The job's
processes see only loopback."""
import os
import subprocess
import sys
import time

import pytest

from spmd.cluster import netns
from test_spmd_run import _alive, assert_job_ok, script, spmd_run_command

UNSHARE_PROBLEM = netns.unshare_problem()
pytestmark = pytest.mark.skipif(UNSHARE_PROBLEM is not None,
                                reason=f"cannot make a private network namespace: "
                                       f"{UNSHARE_PROBLEM}")


@pytest.mark.timeout(180)
def test_job_runs_on_ray():
    # a script path relative to spmd-run's directory, where the actors' processes start too
    done, _ = spmd_run_command("-n", 2, "--ray", "--cpu-devices", 2, "job_check.py", 2, 2,
                               timeout=170, cwd=os.path.dirname(script("job_check.py")))
    assert_job_ok(done, 2, 2)
    for i in range(2):
        assert f"[{i}] process {i} of 2: 4 devices, 2 local, gathered [0, 1], " \
               f"interfaces ['lo']\n" in done.stdout


@pytest.mark.timeout(180)
def test_a_dead_process_stops_a_job_on_a_running_ray_cluster(tmp_path):
    """spmd-run --ray ADDRESS joins a Ray head (started in a private network namespace by
    scripts/ray_cluster_job.py); process 1 dies and spmd-run stops process 0."""
    start = time.monotonic()
    done = subprocess.run(netns.private_network_command(
        [sys.executable, script("ray_cluster_job.py"), script("die_after_start.py"), tmp_path,
         "plain"]), capture_output=True, text=True, timeout=170,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 3, done.stderr[-3000:]
    assert "spmd-run: process 1 exited with code 3; stopping the other 1 process(es)" \
        in done.stderr
    assert "[0] process 0 waiting" in done.stdout
    survivor = int((tmp_path / "0.pid").read_text())
    assert not _alive(survivor)
    assert time.monotonic() - start < 120
