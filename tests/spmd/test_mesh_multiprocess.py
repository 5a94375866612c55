"""jit over a mesh of every process's devices: 2 processes x 4 devices under each launcher
(spmd-run's local processes, mpiexec, Ray), one job each.

scripts/mesh_multiprocess_job.py checks ops, training on 1-d and 2-d meshes, the make_array
functions, multihost_utils and the errors against single-process oracles on every process;
then runs examples/train_sharded.py on a ('data', 'model') mesh over both processes, which must
end with the loss, accuracy and parameters of one process of 8 devices (computed here); last,
the per-call order check (two agreed programs run in a different order: CallOrderError on both
processes, naming both sides; with the check off, programs without a collective between the
processes run in any order).

One job per launcher does it all (a job's start is dear: a local Ray alone takes 15 to 20 s of
the suite's 2 cores), and the jobs share an on-disk compilation cache: the first compiles the
programs over the mesh, the others load them (XLA's compiles are most of a job's work; what
the launcher changes, how the processes join and reach each other, is all still run)."""
import re

import numpy as np
import pytest

from spmd.transforms import tree_util
from tests.examples.test_train_sharded import example
from tests.launch.test_spmd_run import spmd_run_command
from tests.spmd.test_pmap_multiprocess import FLAGS, _skip_without_private_network, script

# one epoch of 11 steps: enough to learn something (54% test accuracy; 10% by chance), few so
# that the steps over gloo stay cheap
EXAMPLE_ARGS = ["--epochs", "1", "--batch-size", "128", "--model-parallel", "4"]


@pytest.fixture(scope="module")
def one_process_oracle(tmp_path_factory):
    """The example's run in this process (8 devices), as the file the job compares against."""
    alone = example().main(EXAMPLE_ARGS)
    path = tmp_path_factory.mktemp("mesh_oracle") / "one_process.npz"
    params = tree_util.tree_leaves(alone["params"])
    np.savez(path, loss=alone["loss"], accuracy=alone["accuracy"],
             **{f"param{i}": np.asarray(p) for i, p in enumerate(params)})
    return path


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mesh_compilation_cache")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("launcher", ["local", "mpi", "ray"])
def test_jit_over_a_mesh_across_processes(launcher, one_process_oracle, compilation_cache,
                                          monkeypatch):
    _skip_without_private_network(launcher)
    monkeypatch.setenv("SPMD_COMPILATION_CACHE_DIR", str(compilation_cache))
    done, _ = spmd_run_command("-n", 2, *FLAGS[launcher], "--cpu-devices", 4,
                               script("mesh_multiprocess_job.py"), one_process_oracle,
                               *EXAMPLE_ARGS, timeout=170 if launcher == "ray" else 140)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]
    assert "on a mesh {'data': 2, 'model': 4} of 8 cpu devices" in done.stdout, done.stdout
    for i in range(2):
        assert re.search(rf"^\[{i}\] process {i}: all mesh checks passed$", done.stdout,
                         re.M), done.stdout[-3000:]
