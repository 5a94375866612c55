"""Train a small convolutional net on scikit-learn's digits, data-parallel over every device.

    python examples/train_cnn.py                  # one process, 8 CPU devices
    python examples/train_cnn.py --epochs 2       # shorter
    spmd-run -n 2 --cpu-devices 4 examples/train_cnn.py

The net is written as a JAX program would be (`import spmd as jax` ports it unchanged):
two 3x3 convolutions (`lax.conv_general_dilated`, NHWC images, HWIO kernels), max pooling
between them and average pooling after (`lax.reduce_window`, as stax's MaxPool/AvgPool), then
a dense layer to the 10 classes. The train step is one pmapped program: each device takes its
slice of the global batch, `lax.pmean` averages the gradients, every device applies the same
Adam update. `per_example_grads` shows the other map: vmap of grad gives one gradient per
image (what DP-SGD clips), in one program.
"""
import os

os.environ.setdefault("SPMD_CPU_DEVICES", "8")  # 8 CPU devices stand in for 8 accelerators

import argparse  # noqa: E402
import functools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import spmd  # noqa: E402
import spmd.numpy as jnp  # noqa: E402
from spmd import lax, optim  # noqa: E402
from spmd.data import ShardedLoader, replicate, unreplicate  # noqa: E402

AXIS = "batch"
DIMS = ("NHWC", "HWIO", "NHWC")  # TensorFlow's layout, as stax uses
CHANNELS = (1, 16, 32)  # grey images in, two conv layers
OPTIMIZER = optim.adam(1e-2)
TEST_SIZE = 360


# ---------------------------------------------------------------------------- the model
def init_params(seed):
    """He-initialized kernels and dense layer, drawn from one seed (the same in every process)."""
    k1, k2, k3 = spmd.random.split(spmd.random.PRNGKey(seed), 3)

    def he(key, shape, fan_in):
        return np.asarray(spmd.random.normal(key, shape)) * np.float32(np.sqrt(2.0 / fan_in))
    (c0, c1, c2) = CHANNELS
    return {"conv1": {"w": he(k1, (3, 3, c0, c1), 9 * c0), "b": np.zeros(c1, np.float32)},
            "conv2": {"w": he(k2, (3, 3, c1, c2), 9 * c1), "b": np.zeros(c2, np.float32)},
            "dense": {"w": he(k3, (c2, 10), c2), "b": np.zeros(10, np.float32)}}


def conv(layer, x):
    y = lax.conv_general_dilated(x, layer["w"], (1, 1), "SAME", dimension_numbers=DIMS)
    return spmd.nn.relu(y + layer["b"])


def max_pool(x):  # 8x8 -> 4x4
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def mean_pool(x):  # the whole 4x4 map -> one value per channel
    return lax.reduce_window(x, 0.0, lax.add, (1, 4, 4, 1), (1, 4, 4, 1), "VALID") / 16


def predict(params, images):
    """Logits for NHWC images."""
    x = mean_pool(conv(params["conv2"], max_pool(conv(params["conv1"], images))))
    return x.reshape(x.shape[0], -1) @ params["dense"]["w"] + params["dense"]["b"]


def loss_fn(params, images, labels):
    log_probs = spmd.nn.log_softmax(predict(params, images))
    return -jnp.mean(jnp.sum(spmd.nn.one_hot(labels, 10) * log_probs, axis=-1))


# ---------------------------------------------------------------------------- mapped programs
@functools.partial(spmd.pmap, axis_name=AXIS, donate_argnums=(0, 1))
def train_step(params, opt_state, batch):
    loss, grads = spmd.value_and_grad(loss_fn)(params, batch["image"], batch["label"])
    grads = lax.pmean(grads, AXIS)  # the whole global batch's gradient, on every device
    updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, lax.pmean(loss, AXIS)


@functools.partial(spmd.pmap, axis_name=AXIS)
def count_correct(params, batch):
    right = jnp.argmax(predict(params, batch["image"]), axis=-1) == batch["label"]
    return lax.psum(jnp.sum(right & batch["mask"]), AXIS), lax.psum(jnp.sum(batch["mask"]), AXIS)


@spmd.jit
def per_example_grads(params, images, labels):
    """One gradient per image: vmap of the gradient of the one-image loss."""
    def one(params, image, label):
        return loss_fn(params, image[None], label[None])
    return spmd.vmap(spmd.grad(one), in_axes=(None, 0, 0))(params, images, labels)


# ---------------------------------------------------------------------------- data
def digits_images(seed=0):
    """The digits as 8x8x1 images in [0, 1]: 1437 to train on, 360 to test, by a fixed order."""
    digits = load_digits()
    images = (digits.images[..., None] / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return ({"image": images[train], "label": labels[train]},
            {"image": images[test], "label": labels[test]})


def evaluate(params, test_loader):
    correct, total = 0, 0
    for batch in test_loader:
        c, n = unreplicate(count_correct(params, batch))
        correct, total = correct + int(c), total + int(n)
    return correct / total


def say(text):
    if spmd.process_index() == 0:
        print(text, flush=True)


# ---------------------------------------------------------------------------- training
def train(epochs=10, batch_size=128, seed=0, max_steps=None):
    """Train; return the per-step losses, the final test accuracy, the steps taken and the
    final parameters (one replica, as NumPy)."""
    train_set, test_set = digits_images()
    loader = ShardedLoader(train_set, batch_size, seed=seed)
    n = spmd.device_count()
    test_loader = ShardedLoader(test_set, -(-TEST_SIZE // n) * n, shuffle=False,
                                last_batch="pad", prefetch=0)
    params = replicate(init_params(seed))
    opt_state = replicate(OPTIMIZER.init(init_params(seed)))
    say(f"digits: a CNN {'-'.join(map(str, CHANNELS))}-10 data-parallel over {n} devices; "
        f"global batch {batch_size}, {len(loader)} steps an epoch")
    losses, step, accuracy = [], 0, float("nan")
    while loader.epoch < epochs and (max_steps is None or step < max_steps):
        epoch, start = loader.epoch, time.perf_counter()
        for batch in loader:
            params, opt_state, loss = train_step(params, opt_state, batch)
            losses.append(loss)
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        accuracy = evaluate(params, test_loader)
        mean = float(np.mean([unreplicate(x) for x in losses[-len(loader):]]))
        say(f"epoch {epoch + 1:2d}/{epochs} loss {mean:.4f}  test accuracy {accuracy:6.1%}  "
            f"{time.perf_counter() - start:5.2f} s")
    loader.close()
    return {"losses": [float(unreplicate(x)) for x in losses], "accuracy": accuracy,
            "step": step, "params": unreplicate(params)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128, help="the global batch (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after step N")
    args = p.parse_args(argv)
    if spmd.distributed.launched():
        spmd.distributed.initialize()
    return train(args.epochs, args.batch_size, args.seed, args.max_steps)


if __name__ == "__main__":
    main()
