"""jit over a mesh of every process's devices: 2 processes x 4 devices under spmd-run.
scripts/mesh_multiprocess_job.py checks ops, training on 1-d and 2-d meshes, the make_array
functions, multihost_utils and the errors against single-process oracles on every process, and
last the per-call order check (two agreed programs run in a different order: CallOrderError on
both processes, naming both sides; with the check off, programs without a collective between
the processes run in any order).

The same script passes under `spmd-run --mpi` and `--ray` (run by hand: a mesh program's
collectives go over XLA's gloo under every launcher, so each further job would cost the suite
20 to 45 s for what the launchers' own tests already cover: how a job is joined; pmap's
launcher tests start a job each too, there is no shared job to reuse)."""
import re

import pytest

from tests.launch.test_spmd_run import spmd_run_command
from tests.spmd.test_pmap_multiprocess import script


@pytest.mark.timeout(150)
def test_jit_over_a_mesh_across_processes():
    done, _ = spmd_run_command("-n", 2, "--cpu-devices", 4, script("mesh_multiprocess_job.py"),
                               timeout=140)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]
    for i in range(2):
        assert re.search(rf"^\[{i}\] process {i}: all mesh checks passed$", done.stdout,
                         re.M), done.stdout[-3000:]
