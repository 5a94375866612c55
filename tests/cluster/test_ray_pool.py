"""run_on_ray: SPMD jobs on Ray workers, with the driver in a private network namespace so
that nothing leaves loopback (the namespace has no other interface; Ray's node is 127.0.0.1)."""
import json
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
