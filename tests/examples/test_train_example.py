"""examples/train_data_parallel.py: it learns, it resumes exactly, and it runs unchanged under
the launchers.

- A short run (6 epochs, global batch 64 over 8 devices) reaches >= 95% test accuracy, and its
  final checkpoint holds the parameters it returned.
- Interrupted + resumed training equals uninterrupted training BIT FOR BIT (parameters,
  optimizer state, loader position): the resumed run executes the same compiled programs on
  the same inputs in the same order, from a state the checkpoint restores bit for bit, and
  XLA's CPU programs (their all-reduce included) are deterministic for a fixed device count.
- 2 processes x 4 devices under spmd-run, --mpi and --ray end with the parameters of the
  1 process x 8 devices run, to float tolerance only: the all-reduce across processes (gloo)
  may add the 8 partial gradients in another order than the in-process one (measured: at most
  4e-7 apart after 8 steps). The checkpoint of the 2-process run resumes in 1 process.
"""
import functools
import importlib.util
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from spmd.cluster import netns
from spmd import checkpoints
from spmd.transforms import tree_util

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_data_parallel.py")
BATCH = 64  # 8 per device, 22 steps an epoch; one batch size, so one compiled train step

@functools.cache
def example():
    """The example as a module, loaded when a test first needs it: it imports scikit-learn, whose
    absence must fail these tests, not the collection of the whole suite."""
    spec = importlib.util.spec_from_file_location("train_data_parallel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(directory, **kw):
    return example().train(batch_size=BATCH, checkpoint_dir=str(directory), **kw)


def assert_trees_equal(a, b):
    assert tree_util.tree_structure(a) == tree_util.tree_structure(b)
    for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.timeout(60)
def test_a_short_run_learns_the_digits(tmp_path, capsys):
    result = example().main(["--epochs", "6", "--batch-size", str(BATCH),
                           "--checkpoint-dir", str(tmp_path), "--checkpoint-every", "50"])
    assert result["accuracy"] >= 0.95, result["accuracy"]  # 96.7% here
    assert result["step"] == 6 * 22 and result["loss"] < 0.5
    out = capsys.readouterr().out
    assert "over 8 cpu devices in 1 process; global batch 64, 22 steps an epoch; test " in out
    assert out.count(" examples/s\n") == 6 and "epoch  6/6 [####################]" in out
    # checkpoints every 50 steps and at the end; the final one holds the returned parameters
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_100", "checkpoint_132", "checkpoint_50"]
    assert f"checkpoint at step 50: {tmp_path}/checkpoint_50 on host {socket.gethostname()} " \
           "(process 0's disk: at restore process 0 reads it and sends it to the others)" in out
    saved = checkpoints.restore_checkpoint(tmp_path)
    assert saved["step"] == 132 and saved["loader"]["epoch"] == 6
    assert_trees_equal(saved["params"], result["params"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """2 epochs (44 steps) in one go: its final checkpoint."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    train(directory, epochs=2, checkpoint_every=10)
    return checkpoints.restore_checkpoint(directory)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["stopped", "crashed"])
def test_resumed_training_equals_uninterrupted_training(tmp_path, uninterrupted, how):
    # stopped: --max-steps 25 ends mid-epoch 2 with a checkpoint at step 25. crashed: that last
    # checkpoint is lost, and the run resumes from the periodic one at step 20.
    train(tmp_path, epochs=2, checkpoint_every=10, max_steps=25)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_10", "checkpoint_20", "checkpoint_25"]
    if how == "crashed":
        os.remove(tmp_path / "checkpoint_25")
    resumed = train(tmp_path, epochs=2, checkpoint_every=10, resume=True)
    assert resumed["step"] == 44
    final = checkpoints.restore_checkpoint(tmp_path)
    assert final["loader"] == uninterrupted["loader"]
    assert_trees_equal(final, uninterrupted)  # step, parameters, optimizer state, loader


def test_a_fresh_run_replaces_an_earlier_runs_checkpoints(tmp_path):
    (tmp_path / "checkpoint_500").write_bytes(b"an earlier run")
    (tmp_path / "notes.txt").write_text("kept")
    train(tmp_path, epochs=1, max_steps=3)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_3", "notes.txt"]


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit):
        example().main(["--resume", "--checkpoint-dir", ""])
    assert "--resume needs a --checkpoint-dir" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no checkpoint in directory"):
        train(tmp_path, epochs=1, resume=True)


# ---------------------------------------------------------------- under the launchers
MULTI_STEPS = 8
ARGS = ["--epochs", "1", "--batch-size", str(BATCH), "--max-steps", str(MULTI_STEPS)]


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    directory = tmp_path_factory.mktemp("single")
    train(directory, epochs=1, max_steps=MULTI_STEPS)
    return checkpoints.restore_checkpoint(directory)


def run_under(launcher, directory, timeout):
    flags = {"local": [], "mpi": ["--mpi"], "ray": ["--ray"]}[launcher]
    command = [sys.executable, "-m", "spmd.launch", "-n", "2", *flags, "--cpu-devices", "4", SCRIPT,
               *ARGS, "--checkpoint-dir", str(directory)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("launcher", [
    pytest.param("local", marks=pytest.mark.timeout(90)),
    pytest.param("mpi", marks=pytest.mark.timeout(90)),
    pytest.param("ray", marks=[pytest.mark.timeout(180), pytest.mark.skipif(
        netns.unshare_problem() is not None, reason="spmd-run --ray needs a private network "
        f"namespace: {netns.unshare_problem()}")])])
def test_two_processes_end_with_the_single_process_parameters(tmp_path, single_process,
                                                              uninterrupted, launcher):
    done = run_under(launcher, tmp_path, timeout=170 if launcher == "ray" else 80)
    assert done.returncode == 0, done.stderr[-3000:]
    # (gloo's C++ notices can land inside a line of rank 0, so no "[0] " prefix is required)
    assert "digits: 1437 training and 360 test images; MLP 64-128-10 data-parallel over 8 " \
           "cpu devices in 2 processes" in done.stdout, done.stdout
    assert f"stopped at step {MULTI_STEPS}" in done.stdout
    # only rank 0 reports (rank 1's output has just gloo's connection notices, at times torn)
    assert not [line for line in done.stdout.splitlines() if line.startswith("[1] ") and any(
        word in line for word in ("digits:", "epoch", "accuracy", "step"))], done.stdout
    saved = checkpoints.restore_checkpoint(tmp_path)
    assert saved["step"] == single_process["step"] == MULTI_STEPS
    assert saved["loader"] == single_process["loader"]
    for got, want in zip(tree_util.tree_leaves((saved["params"], saved["opt_state"])),
                         tree_util.tree_leaves((single_process["params"],
                                                single_process["opt_state"]))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if launcher == "local":  # a checkpoint of 2 processes x 4 devices resumes on 1 x 8
        resumed = train(tmp_path, epochs=2, checkpoint_every=10, resume=True)
        assert resumed["step"] == uninterrupted["step"] == 44
        for got, want in zip(tree_util.tree_leaves(resumed["params"]),
                             tree_util.tree_leaves(uninterrupted["params"])):
            # 36 Adam steps on sums taken in another order (within each process first, then
            # between processes): a few 1e-6 apart on weights of 1e-2
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
