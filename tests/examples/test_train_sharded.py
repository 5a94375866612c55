"""examples/train_sharded.py: jit over a mesh learns the digits, and the data x model variant
computes what the data-parallel one does (the same mathematics, laid out otherwise).

Across processes (2 x 4 devices, under spmd-run, mpiexec and Ray) the example runs inside the
mesh job of tests/spmd/test_mesh_multiprocess.py, which checks it against this process's run:
one job per launcher for both."""
import functools
import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_sharded.py")


@functools.cache
def example():
    """Loaded when first needed: it imports scikit-learn (through train_data_parallel.py)."""
    spec = importlib.util.spec_from_file_location("train_sharded", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_parallel():
    return example().main(["--epochs", "6", "--batch-size", "64"])


@pytest.mark.timeout(120)
def test_a_short_data_parallel_run_learns_the_digits(data_parallel, capsys):
    assert data_parallel["accuracy"] >= 0.95, data_parallel["accuracy"]  # 96.9% here
    assert data_parallel["loss"] < 0.5


@pytest.mark.timeout(120)
def test_the_data_by_model_mesh_trains_the_same_model(data_parallel, capsys):
    split = example().main(["--epochs", "6", "--batch-size", "64", "--model-parallel", "4"])
    assert "on a mesh {'data': 2, 'model': 4} of 8 cpu devices" in capsys.readouterr().out
    assert split["accuracy"] >= 0.95
    flat = [np.concatenate([np.ravel(v) for layer in r["params"] for v in layer.values()])
            for r in (split, data_parallel)]
    np.testing.assert_allclose(flat[0], flat[1], rtol=1e-4, atol=1e-5)


@pytest.mark.timeout(120)
def test_the_shard_map_step_trains_the_same_model(data_parallel):
    per_device = example().main(["--epochs", "6", "--batch-size", "64", "--shard-map"])
    assert per_device["accuracy"] >= 0.95
    flat = [np.concatenate([np.ravel(v) for layer in r["params"] for v in layer.values()])
            for r in (per_device, data_parallel)]
    np.testing.assert_allclose(flat[0], flat[1], rtol=1e-4, atol=1e-5)


def test_a_model_split_that_does_not_divide_the_devices_is_refused():
    with pytest.raises(SystemExit, match="--model-parallel 3 must divide the 8 devices"):
        example().main(["--epochs", "1", "--model-parallel", "3"])
