"""A driver (run in a private network namespace by the test) that runs SPMD jobs on Ray
workers with run_on_ray, and prints what they returned as one JSON line."""
import json
import logging
import shutil
import tempfile

import ray

from spmd.cluster import netns
from spmd.cluster.ray_pool import run_on_ray


def job(scale):
    import numpy as np
    import ray
    import spmd
    from spmd.cluster import netns
    spmd.distributed.initialize()
    me = spmd.process_index()
    gathered = spmd.distributed.process_allgather(np.float32(me * scale))
    return dict(index=me, count=spmd.process_count(), devices=len(spmd.devices()),
                local=len(spmd.local_devices()), gathered=gathered.tolist(),
                node_ip=ray.util.get_node_ip_address(), interfaces=netns.interfaces())


def failing():
    import spmd
    spmd.distributed.initialize()
    if spmd.process_index() == 1:
        raise ValueError("process 1 fails on purpose")
    spmd.distributed.sync_global_devices("never reached by process 1")


temp = tempfile.mkdtemp(prefix="spmd-ray-test-")
# One Ray instance for both jobs: run_on_ray uses the driver's connection when there is one.
ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, logging_level=logging.WARNING)
results = run_on_ray(job, 2, (10.0,), cpu_devices=2)
try:
    run_on_ray(failing, 2)
    failure = None
except RuntimeError as e:
    failure = str(e)
nodes = [node["NodeManagerAddress"] for node in ray.nodes()]
ray.shutdown()
shutil.rmtree(temp, ignore_errors=True)
print(json.dumps(dict(results=results, failure=failure, nodes=nodes,
                      driver_interfaces=netns.interfaces())), flush=True)
