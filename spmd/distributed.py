"""`spmd.distributed`: join a multi-process job, as `jax.distributed`, plus the host-side
helpers of JAX's multihost_utils (on host values, through the coordinator's key-value store).

    import spmd
    spmd.distributed.initialize()          # under spmd-run, mpiexec, srun or a Ray worker
    params = spmd.distributed.broadcast_one_to_all(params)   # process 0's initial values
"""
from spmd.cluster.cluster_env import detect
from spmd.cluster.distributed import initialize, is_initialized, shutdown  # noqa: F401
from spmd.cluster.host_collectives import (assert_equal, broadcast_one_to_all,  # noqa: F401
                                           process_allgather, sync_global_devices)


def launched() -> bool:
    """True when a launcher (spmd-run, mpiexec, srun, spmd's Ray workers) started this process as
    part of a job, so that a script can call `initialize()` only then and also run alone."""
    return detect() is not None
