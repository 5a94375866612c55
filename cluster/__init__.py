"""Process bootstrap: who am I, how many are we, where is the coordinator.

The environment classes register themselves on import (cheap: no jaxlib, no MPI, no Ray), so
`launch` can use them without starting a backend. `cluster.distributed` (initialize/shutdown),
`cluster.host_collectives` and `cluster.ray_pool` are imported where they are needed."""
from spmd.cluster import mpi_env, ray_env, slurm_env, spmd_run_env  # noqa: F401  (register)
from spmd.cluster.cluster_env import ClusterEnv, JobSpec, detect, environments, resolve  # noqa: F401
