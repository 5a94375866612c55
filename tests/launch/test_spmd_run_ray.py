"""spmd-run --ray: on a local Ray instance in a private network namespace (spmd-run re-executes
itself in one), and on a running cluster given by address; one actor per process. The job's
processes see only loopback."""
import os
import subprocess
import sys
import time

import pytest

from spmd.cluster import netns
from spmd.launch import main as spmd_run
from spmd.launch.ray_launch import script_on_node, working_dir_for
from test_spmd_run import _alive, assert_job_ok, script, spmd_run_command

UNSHARE_PROBLEM = netns.unshare_problem()
needs_private_network = pytest.mark.skipif(UNSHARE_PROBLEM is not None,
                                           reason=f"cannot make a private network namespace: "
                                                  f"{UNSHARE_PROBLEM}")


@needs_private_network
@pytest.mark.timeout(180)
def test_job_runs_on_ray():
    # a script path relative to spmd-run's directory, where the actors' processes start too
    done, _ = spmd_run_command("-n", 2, "--ray", "--cpu-devices", 2, "job_check.py", 2, 2,
                               timeout=170, cwd=os.path.dirname(script("job_check.py")))
    assert_job_ok(done, 2, 2)
    for i in range(2):
        assert f"[{i}] process {i} of 2: 4 devices, 2 local, gathered [0, 1], " \
               f"interfaces ['lo']\n" in done.stdout


@needs_private_network
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


# ---------------------------------------------------------------- the Ray options, without Ray
def test_placement_and_working_folder_options():
    job = script("job_check.py")
    args = spmd_run.parse(["-n", "2", "--ray", "10.0.0.1:6379", "--ray-spread",
                           "--ray-working-dir", "none", job, "x"])
    assert (args.ray_address, args.ray_strategy, args.ray_working_dir, args.script, args.args) \
        == ("10.0.0.1:6379", "STRICT_SPREAD", "none", job, ["x"])
    args = spmd_run.parse(["-n", "2", "--ray-strategy", "SPREAD", "--ray", job])
    assert (args.ray_address, args.ray_strategy, args.ray_working_dir) == (None, "SPREAD", None)


@pytest.mark.parametrize("argv,error", [
    (["--ray-spread"], "--ray-strategy, --ray-spread and --ray-working-dir go with --ray"),
    (["--ray", "--ray-strategy", "ONE_PER_NODE"], "argument --ray-strategy: invalid choice"),
    (["--ray", "--ray-spread", "--ray-strategy", "PACK"], "not allowed with argument"),
])
def test_misused_ray_options(capsys, argv, error):
    with pytest.raises(SystemExit):
        spmd_run.parse(["-n", "2", *argv, script("job_check.py")])
    assert error in capsys.readouterr().err


def test_which_folder_goes_with_the_job_and_how_the_script_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert working_dir_for(None, None) is None  # a local Ray shares this machine's files
    assert working_dir_for("h:6379", None) == str(tmp_path)
    assert working_dir_for("h:6379", "none") is None
    assert working_dir_for("h:6379", "sub") == str(tmp_path / "sub")
    assert script_on_node("sub/job.py", str(tmp_path)) == "sub/job.py"
    assert script_on_node(str(tmp_path / "job.py"), str(tmp_path / "sub")) == \
        str(tmp_path / "job.py")  # outside the folder: the same path must exist on every node
    assert script_on_node("job.py", None) == str(tmp_path / "job.py")
