"""jit over a mesh of every process's devices: 2 processes x 4 devices, started by spmd-run's
local processes and by mpiexec (the same script; Ray's jobs cost ~30 s of the suite each and
start processes as spmd-run's do, see tests/spmd/test_pmap_multiprocess.py).
scripts/mesh_multiprocess_job.py checks ops, training on 1-d and 2-d meshes, the make_array
functions, process_allgather and the errors against single-process oracles on every process."""
import re

import pytest

from tests.launch.test_spmd_run import spmd_run_command
from tests.spmd.test_pmap_multiprocess import FLAGS, script


@pytest.mark.timeout(150)
@pytest.mark.parametrize("launcher", ["local", "mpi"])
def test_jit_over_a_mesh_across_processes(launcher):
    done, _ = spmd_run_command("-n", 2, *FLAGS[launcher], "--cpu-devices", 4,
                               script("mesh_multiprocess_job.py"), timeout=140)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]
    for i in range(2):
        assert re.search(rf"^\[{i}\] process {i}: all mesh checks passed$", done.stdout,
                         re.M), done.stdout[-3000:]
