"""JAX's example programs, ported by `import spmd as jax`: an MNIST-style classifier written as
JAX's examples/mnist_classifier.py (stax.serial of Dense/Relu/LogSoftmax, optimizers.momentum, a
jitted update) learns scikit-learn's digits; a stax conv net trains data-parallel under pmap
with the optimizer state replicated, one pmapped step equal to the same step on one device; and
the classic pmap tutorial (a convolution mapped over devices, psum-normalized, and linear
regression with pmean'd gradients) gives NumPy's numbers."""
import functools
import itertools
from typing import NamedTuple

import numpy as np
import numpy.random as npr
import pytest

import spmd as jax
import spmd.numpy as jnp
from spmd import grad, jit, lax, random
from spmd.example_libraries import optimizers, stax
from spmd.example_libraries.stax import Dense, LogSoftmax, Relu
from spmd.transforms import tree_util
from tests.oracles import assert_close


@functools.cache
def digits():
    """scikit-learn's 8x8 digits in [0, 1], labels one-hot, split 1500/297 (imported here, so a
    missing scikit-learn fails these tests, not the collection of the suite)."""
    from sklearn.datasets import load_digits
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[data.target]
    return images[:1500], labels[:1500], images[1500:], labels[1500:]


# ---------------------------------------------------------------------------- mnist_classifier.py
def loss(params, batch):
    inputs, targets = batch
    preds = predict(params, inputs)
    return -jnp.mean(jnp.sum(preds * targets, axis=1))


def accuracy(params, batch):
    inputs, targets = batch
    target_class = jnp.argmax(targets, axis=1)
    predicted_class = jnp.argmax(predict(params, inputs), axis=1)
    return jnp.mean(predicted_class == target_class)


init_random_params, predict = stax.serial(
    Dense(64), Relu,
    Dense(64), Relu,
    Dense(10), LogSoftmax)


def test_mnist_classifier_as_jax_writes_it_learns_the_digits():
    rng = random.key(0)
    step_size, batch_size, momentum_mass, num_steps = 0.05, 128, 0.9, 60
    train_images, train_labels, test_images, test_labels = digits()
    train_images, test_images = train_images.reshape(-1, 64), test_images.reshape(-1, 64)
    num_train = train_images.shape[0]
    num_batches = -(-num_train // batch_size)

    def data_stream():
        rng = npr.RandomState(0)
        while True:
            perm = rng.permutation(num_train)
            for i in range(num_batches):
                batch_idx = perm[i * batch_size:(i + 1) * batch_size]
                yield train_images[batch_idx], train_labels[batch_idx]
    batches = data_stream()

    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=momentum_mass)

    @jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        return opt_update(i, grad(loss)(params, batch), opt_state)

    _, init_params = init_random_params(rng, (-1, 8 * 8))
    opt_state = opt_init(init_params)
    itercount = itertools.count()
    before = float(loss(init_params, (train_images, train_labels)))
    for _ in range(num_steps):
        opt_state = update(next(itercount), opt_state, next(batches))
    params = get_params(opt_state)
    after = float(loss(params, (train_images, train_labels)))
    assert before > 2.0 and after < 0.25 * before
    assert float(accuracy(params, (test_images, test_labels))) > 0.85


# ---------------------------------------------------------------------------- a conv net, pmapped
init_conv_net, apply_conv_net = stax.serial(
    stax.Conv(4, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), (2, 2)),
    stax.Flatten, stax.Dense(10), stax.LogSoftmax)


def conv_loss(params, images, labels):
    return -jnp.mean(jnp.sum(apply_conv_net(params, images) * labels, axis=1))


def conv_training(num_devices):
    """(init, update) of the conv net with Adam; update pmeans the gradients over 'batch'."""
    opt_init, opt_update, get_params = optimizers.adam(0.02)

    @functools.partial(jax.pmap, axis_name="batch", in_axes=(None, 0, 0, 0))
    def pmapped_update(i, opt_state, images, labels):
        grads = grad(conv_loss)(get_params(opt_state), images, labels)
        return opt_update(i, lax.pmean(grads, "batch"), opt_state)

    @jit
    def update(i, opt_state, images, labels):
        return opt_update(i, grad(conv_loss)(get_params(opt_state), images, labels), opt_state)
    return opt_init, pmapped_update, update, get_params


def _shard(x, n):
    return x.reshape(n, x.shape[0] // n, *x.shape[1:])


def test_conv_net_trains_under_pmap_and_each_step_equals_the_one_device_step():
    n = jax.local_device_count()
    images, labels, _, _ = digits()
    images = images[..., None]
    _, params = init_conv_net(random.PRNGKey(0), (-1, 8, 8, 1))
    opt_init, pmapped_update, update, get_params = conv_training(n)
    opt_state = opt_init(params)
    replicated = jax.device_put_replicated(opt_state, jax.local_devices())
    assert isinstance(replicated, optimizers.OptimizerState)
    batch = 8 * n
    first = float(conv_loss(params, images[:512], labels[:512]))
    for i in range(12):
        rows = slice(i * batch, (i + 1) * batch)
        replicated = pmapped_update(i, replicated, _shard(images[rows], n),
                                    _shard(labels[rows], n))
        if i < 2:  # the oracle: the same step on one device, over the whole global batch
            opt_state = update(i, opt_state, images[rows], labels[rows])
            one_replica = tree_util.tree_map(lambda x: np.asarray(x)[0], replicated)
            assert_close(get_params(one_replica), get_params(opt_state), rtol=1e-4, atol=1e-5)
    replicas = np.asarray(get_params(replicated)[0][0])
    np.testing.assert_array_equal(replicas, np.broadcast_to(replicas[0], replicas.shape))
    last = float(conv_loss(tree_util.tree_map(lambda x: np.asarray(x)[0],
                                              get_params(replicated)),
                           images[:512], labels[:512]))
    assert last < 0.75 * first


# ---------------------------------------------------------------------------- the pmap tutorial
def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(jnp.dot(x[i - 1:i + 2], w))
    return jnp.array(output)


def normalized_convolution(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(jnp.dot(x[i - 1:i + 2], w))
    output = jnp.array(output)
    return output / jax.lax.psum(output, axis_name="p")


class Params(NamedTuple):
    weight: jnp.ndarray
    bias: jnp.ndarray


def init(rng) -> Params:
    """Returns the initial model params."""
    weights_key, bias_key = jax.random.split(rng)
    weight = jax.random.normal(weights_key, ())
    bias = jax.random.normal(bias_key, ())
    return Params(weight, bias)


def loss_fn(params: Params, xs: jnp.ndarray, ys: jnp.ndarray) -> jnp.ndarray:
    """Computes the least squares error of the model's predictions on x against y."""
    pred = params.weight * xs + params.bias
    return jnp.mean((pred - ys) ** 2)


LEARNING_RATE = 0.1


@functools.partial(jax.pmap, axis_name="num_devices")
def update(params: Params, xs: jnp.ndarray, ys: jnp.ndarray):
    """Performs one SGD update step on params using the given data."""
    loss, grads = jax.value_and_grad(loss_fn)(params, xs, ys)
    grads = jax.lax.pmean(grads, axis_name="num_devices")
    loss = jax.lax.pmean(loss, axis_name="num_devices")
    new_params = jax.tree_util.tree_map(
        lambda param, g: param - g * LEARNING_RATE, params, grads)
    return new_params, loss


@pytest.mark.parametrize("part", ["convolve", "linear regression"])
def test_pmap_tutorial(part):
    n_devices = jax.local_device_count()
    if part == "convolve":
        x = np.arange(5 * n_devices, dtype=np.float32).reshape(n_devices, 5)
        w = np.array([2., 3., 4.], np.float32)
        expected = np.stack([np.convolve(row, w[::-1], "valid") for row in x])
        np.testing.assert_allclose(np.asarray(jax.pmap(convolve, in_axes=(0, None))(x, w)),
                                   expected, rtol=1e-6)
        ws = np.stack([w] * n_devices)
        out = jax.pmap(normalized_convolution, axis_name="p")(x, ws)
        np.testing.assert_allclose(np.asarray(out), expected / expected.sum(0), rtol=1e-5)
        return
    true_w, true_b = 2, -1
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(128, 1)).astype(np.float32)
    ys = (xs * true_w + true_b + 0.5 * rng.normal(size=(128, 1))).astype(np.float32)
    params = init(jax.random.key(123))
    replicated_params = jax.tree_util.tree_map(lambda x: jnp.array([x] * n_devices), params)

    def split(arr):
        """Splits the first axis of `arr` evenly across the number of devices."""
        return arr.reshape(n_devices, arr.shape[0] // n_devices, *arr.shape[1:])
    x_split, y_split = split(xs), split(ys)
    for _ in range(100):
        replicated_params, loss = update(replicated_params, x_split, y_split)
    params = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], replicated_params)
    assert isinstance(params, Params)
    # gradient descent reaches the least-squares line NumPy solves for
    slope, intercept = np.polyfit(xs[:, 0].astype(np.float64), ys[:, 0], 1)
    np.testing.assert_allclose([params.weight, params.bias], [slope, intercept], atol=1e-4)
    residual = np.mean((slope * xs + intercept - ys) ** 2)
    np.testing.assert_allclose(np.asarray(loss), residual, rtol=1e-3)
