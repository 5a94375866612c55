"""run_on_ray: SPMD jobs on Ray workers, with the driver in a private network namespace so
that nothing leaves loopback (the namespace has no other interface; Ray's node is 127.0.0.1)."""
import json
import re
import os
import subprocess
import sys

import pytest

from spmd.cluster import netns
from local_job import SCRIPTS

UNSHARE_PROBLEM = netns.unshare_problem()


@pytest.mark.skipif(netns.only_loopback(), reason="this test process already has only loopback")
def test_no_local_ray_outside_a_private_network():
    from spmd.cluster.ray_pool import run_on_ray
    with pytest.raises(RuntimeError, match="would listen on this machine's outside addresses"
                                           r".*require_private_network=False"):
        run_on_ray(print, 2)


@pytest.mark.timeout(180)
@pytest.mark.skipif(UNSHARE_PROBLEM is not None,
                    reason=f"cannot make a private network namespace: {UNSHARE_PROBLEM}")
def test_run_on_ray_in_a_private_network():
    done = subprocess.run(
        netns.private_network_command([sys.executable, os.path.join(SCRIPTS, "ray_driver.py")]),
        capture_output=True, text=True, timeout=170,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["driver_interfaces"] == ["lo"] and report["nodes"] == ["127.0.0.1"]
    for i, result in enumerate(report["results"]):
        assert result == dict(index=i, count=2, devices=4, local=2, gathered=[0.0, 10.0],
                              node_ip="127.0.0.1", interfaces=["lo"])
    assert report["failure"].startswith("process 1 of 2 of the Ray job failed; the others were "
                                        "stopped"), report["failure"]
    assert "process 1 fails on purpose" in report["failure"]


# ---------------------------------------------------------------- the pieces, without Ray
def test_workers_get_the_drivers_variables_but_not_the_machine_specific_ones():
    from spmd.cluster.ray_runtime_env import driver_env_vars
    driver = {"SPMD_CPU_DEVICES": "2", "XLA_FLAGS": "--xla_foo", "MY_SETTING": "1",
              "LANG": "C.UTF-8", "PATH": "/usr/bin", "HOME": "/root", "PYTHONPATH": "/src",
              "VIRTUAL_ENV": "/venv", "SLURM_JOB_ID": "7", "OMPI_COMM_WORLD_RANK": "0",
              "PMI_RANK": "0", "RAY_AUTH_TOKEN": "secret", "RAY_ADDRESS": "h:1",
              "SPMD_HOST_ADDRESS": "10.0.0.1", "SPMD_COORDINATOR": "h:2",
              "SPMD_PROCESS_ID": "0", "CUDA_VISIBLE_DEVICES": "0", "SSH_CONNECTION": "x"}
    assert driver_env_vars(driver) == {"SPMD_CPU_DEVICES": "2", "XLA_FLAGS": "--xla_foo",
                                       "MY_SETTING": "1", "LANG": "C.UTF-8"}


def test_the_working_folder_is_bounded(tmp_path):
    from spmd.cluster.ray_runtime_env import checked_working_dir, job_runtime_env
    (tmp_path / "job.py").write_bytes(b"x" * 600)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "pack").write_bytes(b"x" * 5000)  # not sent, not counted
    (tmp_path / ".bench-env").mkdir()  # a virtual environment under another name: the same
    (tmp_path / ".bench-env" / "pyvenv.cfg").write_bytes(b"home = /usr/bin\n")
    (tmp_path / ".bench-env" / "lib.so").write_bytes(b"x" * 5000)
    assert checked_working_dir(str(tmp_path), limit=1000) == str(tmp_path)
    (tmp_path / "data.bin").write_bytes(b"x" * 600)
    with pytest.raises(ValueError, match=rf"the working folder to send with the Ray job, "
                                         rf"{tmp_path}, holds more than 0.000953674 MiB.*"
                                         rf"--ray-working-dir none"):
        checked_working_dir(str(tmp_path), limit=1000)
    with pytest.raises(ValueError, match="is not a folder"):
        checked_working_dir(str(tmp_path / "job.py"))
    env = job_runtime_env(str(tmp_path), environ={"A": "1", "HOME": "/root"})
    assert env == {"env_vars": {"A": "1"}, "working_dir": str(tmp_path),
                   "excludes": [".git", "__pycache__", ".venv", "venv", ".pytest_cache",
                                "/.bench-env"]}
    assert job_runtime_env(None, environ={"A": "1"}) == {"env_vars": {"A": "1"}}


def test_an_unknown_placement_strategy_is_refused():
    from spmd.cluster.ray_pool import RayPool
    with pytest.raises(ValueError, match=r"unknown Ray placement strategy 'ONE_PER_NODE': use "
                                         r"one of PACK, SPREAD, STRICT_SPREAD, STRICT_PACK"):
        RayPool(2, object, strategy="ONE_PER_NODE")


def _connection_error(cause: str) -> ConnectionError:
    """What ray.init raises: the reason only in the chained error's traceback text."""
    try:
        try:
            raise RuntimeError(f"Failed to connect to GCS. Last connection error: {cause}")
        except RuntimeError as e:
            raise ConnectionError("Failed to connect to Ray cluster at h:6379") from e
    except ConnectionError as e:
        return e


def test_a_refused_token_is_named_with_what_to_do(monkeypatch):
    from spmd.cluster.ray_pool import _join_error
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    refused = _join_error("h:6379", _connection_error(
        "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication token "
        "is missing or incorrect"))
    assert re.match(r"the Ray cluster at h:6379 refused this driver's authentication "
                    r"\(InvalidAuthToken\).*\(RAY_AUTH_MODE=unset\).*Run it with "
                    r"RAY_AUTH_MODE=token and the cluster's token, as RAY_AUTH_TOKEN=<token> or "
                    r"RAY_AUTH_TOKEN_PATH=.*start every worker node the same way", str(refused))
    other = _join_error("h:6379", _connection_error("Connection refused"))
    assert str(other) == "cannot join the Ray cluster at h:6379: Failed to connect to Ray " \
                         "cluster at h:6379"
