"""The loader, the optimizers and checkpoints under pmap: data-parallel training over the local
devices equals single-device training on the whole global batch (the oracle), and a run
checkpointed on 8 devices resumes on 4 with the same result."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import checkpoints as checkpoint, optim
from spmd.data import ShardedLoader, replicate, unreplicate
from tests.oracles import assert_close
from spmd.transforms import backend

DEVICES = backend.local_devices()
ROWS, FEATURES, GLOBAL_BATCH, EPOCH = 44, 3, 16, 3  # 3 batches an epoch, the last one padded
OPT = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(0.05, weight_decay=0.01))


def _dataset():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, FEATURES)).astype(np.float32)
    return {"x": x, "y": np.tanh(x @ np.array([[1.0], [-2.0], [0.5]], np.float32))}


def _init_params():
    rng = np.random.default_rng(1)
    return {"w1": rng.standard_normal((FEATURES, 4)).astype(np.float32) * 0.5,
            "w2": rng.standard_normal((4, 1)).astype(np.float32) * 0.5}


def _masked_error_sum(params, x, y, mask):
    """Sum of squared errors over the valid rows (and their count): partial sums that the
    devices add up before dividing, so padding never weighs in."""
    pred = jnp.matmul(jnp.tanh(jnp.matmul(x, params["w1"])), params["w2"])
    m = mask.astype(jnp.float32)[:, None]
    return jnp.sum(m * (pred - y) ** 2), jnp.sum(m)


def _update(params, opt_state, grad_sum, count):
    grads = spmd.tree_util.tree_map(lambda g: g / count, grad_sum)
    updates, opt_state = OPT.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state


def _device_step(params, opt_state, batch):
    grad_sum = spmd.grad(lambda p: _masked_error_sum(p, batch["x"], batch["y"],
                                                     batch["mask"])[0])(params)
    count = spmd.lax.psum(jnp.sum(batch["mask"].astype(jnp.float32)), "batch")
    return _update(params, opt_state, spmd.lax.psum(grad_sum, "batch"), count)


pmapped_step = spmd.pmap(_device_step, axis_name="batch")


@spmd.jit
def whole_batch_step(params, opt_state, batch):
    x, y, mask = (batch[k].reshape((GLOBAL_BATCH,) + batch[k].shape[2:])
                  for k in ("x", "y", "mask"))
    grad_sum = spmd.grad(lambda p: _masked_error_sum(p, x, y, mask)[0])(params)
    return _update(params, opt_state, grad_sum, jnp.sum(mask.astype(jnp.float32)))


def _loader(devices, **kw):
    return ShardedLoader(_dataset(), GLOBAL_BATCH, seed=2, last_batch="pad", devices=devices, **kw)


def _train(step, loader, params, opt_state, steps):
    done = 0
    while done < steps:
        for batch in loader:
            params, opt_state = step(params, opt_state, batch)
            done += 1
            if done == steps:
                break
    return params, opt_state


def _single_device_reference(steps):
    params = _init_params()
    return _train(whole_batch_step, _loader(DEVICES[:1]), params, OPT.init(params), steps)


@pytest.mark.parametrize("num_devices", [2, 8])
def test_pmapped_training_equals_single_device_training(num_devices):
    steps = 2 * EPOCH
    params = _init_params()
    p, s = _train(pmapped_step, _loader(DEVICES[:num_devices]),
                  replicate(params, DEVICES[:num_devices]),
                  replicate(OPT.init(params), DEVICES[:num_devices]), steps)
    assert p["w1"].shape == (num_devices, FEATURES, 4)
    for replica in range(num_devices):  # every replica holds the same parameters
        np.testing.assert_array_equal(np.asarray(p["w1"])[replica], np.asarray(p["w1"])[0])
    ref_p, ref_s = _single_device_reference(steps)
    assert_close(unreplicate(p), ref_p, rtol=1e-5, atol=1e-6)
    assert_close(unreplicate(s), ref_s, rtol=1e-5, atol=1e-6)


def test_checkpoint_on_8_devices_resumes_on_4(tmp_path):
    total, interrupt_at = 2 * EPOCH + 1, EPOCH + 1  # stop mid-epoch 2
    params = _init_params()
    eight = DEVICES[:8]
    loader = _loader(eight)
    p, s = _train(pmapped_step, loader, replicate(params, eight),
                  replicate(OPT.init(params), eight), interrupt_at)
    checkpoint.save_checkpoint(tmp_path, {"params": unreplicate(p), "opt": unreplicate(s),
                                          "loader": loader.state_dict()}, step=interrupt_at)
    loader.close()

    template = {"params": params, "opt": OPT.init(params), "loader": _loader(eight).state_dict()}
    restored = checkpoint.restore_checkpoint(tmp_path, target=template)
    four = DEVICES[:4]
    loader = _loader(four)
    loader.load_state_dict(restored["loader"])
    p, s = _train(pmapped_step, loader, replicate(restored["params"], four),
                  replicate(restored["opt"], four), total - interrupt_at)
    ref_p, ref_s = _single_device_reference(total)
    assert_close(unreplicate(p), ref_p, rtol=1e-5, atol=1e-6)
    assert_close(unreplicate(s), ref_s, rtol=1e-5, atol=1e-6)
