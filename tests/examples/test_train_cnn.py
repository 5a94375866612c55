"""examples/train_cnn.py: the CNN learns under pmap, its per-example gradients (vmap of grad)
equal the loop over the images, and one pmapped step over 8 devices equals the same step on one
device (the whole global batch's gradient, then the Adam update)."""
import functools
import importlib.util
import os

import numpy as np
import pytest

import spmd
from spmd.data import replicate, unreplicate
from spmd.transforms import tree_util
from tests.oracles import assert_close

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_cnn.py")


@functools.cache
def example():
    """Loaded when a test first needs it: it imports scikit-learn, whose absence must fail these
    tests, not the collection of the suite."""
    spec = importlib.util.spec_from_file_location("train_cnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch(size, seed=0):
    train_set, _ = example().digits_images()
    rows = np.random.default_rng(seed).choice(len(train_set["label"]), size, replace=False)
    return train_set["image"][rows], train_set["label"][rows]


def _close(a, b, tol):
    for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b)):
        assert_close(x, np.asarray(y), rtol=tol, atol=tol)


@pytest.mark.timeout(120)
def test_a_short_run_lowers_the_loss(capsys):
    result = example().main(["--epochs", "2", "--batch-size", "64"])
    losses = result["losses"]
    assert result["step"] == 2 * 22 and len(losses) == 44
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses
    assert "data-parallel over 8 devices; global batch 64, 22 steps an epoch" in \
        capsys.readouterr().out


def test_per_example_gradients_match_the_loop():
    module = example()
    params = module.init_params(1)
    images, labels = _batch(4)
    per_example = module.per_example_grads(params, images, labels)
    grad_one = spmd.jit(spmd.grad(module.loss_fn))  # one program for the loop's four calls
    for i in range(4):
        one = grad_one(params, images[i:i + 1], labels[i:i + 1])
        _close(tree_util.tree_map(lambda g, i=i: g[i], per_example), one, 1e-5)


def test_a_pmapped_step_equals_the_step_on_one_device():
    module = example()
    params = module.init_params(2)
    opt_state = module.OPTIMIZER.init(params)
    images, labels = _batch(32, seed=3)
    n = spmd.device_count()
    shard = lambda x: x.reshape(n, -1, *x.shape[1:])  # noqa: E731  (8 slices of 4 images)
    batch = {"image": shard(images), "label": shard(labels)}
    new_params, _, loss = module.train_step(replicate(params), replicate(opt_state), batch)

    @spmd.jit
    def one_device_step(params, opt_state):
        loss, grads = spmd.value_and_grad(module.loss_fn)(params, images, labels)
        updates, _ = module.OPTIMIZER.update(grads, opt_state, params)
        return spmd.optim.apply_updates(params, updates), loss
    want, loss_one = one_device_step(params, opt_state)
    _close(unreplicate(new_params), want, 1e-5)
    assert_close(unreplicate(loss), np.asarray(loss_one), rtol=1e-5, atol=1e-6)
