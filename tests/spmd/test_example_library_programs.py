"""JAX's example programs, ported by `import spmd as jax`: a stax conv net trains data-parallel
under pmap with the optimizer state replicated, one pmapped step equal to the same step on one
device; and the classic pmap tutorial's convolution mapped over devices, psum-normalized, gives
NumPy's numbers. (mnist_classifier.py and the tutorial's linear regression run as whole
programs in tests/examples/jax_style/, checked by tests/examples/test_jax_style_programs.py.)"""
import functools

import numpy as np

import spmd as jax
import spmd.numpy as jnp
from spmd import grad, jit, lax, random
from spmd.example_libraries import optimizers, stax
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


def test_pmap_tutorial_convolutions():
    n_devices = jax.local_device_count()
    x = np.arange(5 * n_devices, dtype=np.float32).reshape(n_devices, 5)
    w = np.array([2., 3., 4.], np.float32)
    expected = np.stack([np.convolve(row, w[::-1], "valid") for row in x])
    np.testing.assert_allclose(np.asarray(jax.pmap(convolve, in_axes=(0, None))(x, w)),
                               expected, rtol=1e-6)
    ws = np.stack([w] * n_devices)
    out = jax.pmap(normalized_convolution, axis_name="p")(x, ws)
    np.testing.assert_allclose(np.asarray(out), expected / expected.sum(0), rtol=1e-5)
