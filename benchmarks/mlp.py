"""The MLP of the autodiff and vmap benchmarks (issues 3 and 4), written once against a
JAX-like module set so that spmd and jax run the very same code: 784-512-512-10 (or other
`sizes`), ReLU, softmax cross-entropy against one-hot labels, plain SGD."""
from __future__ import annotations

import numpy as np

SIZES = (784, 512, 512, 10)
BATCH = 128
LEARNING_RATE = 0.01


def init(seed: int = 0, sizes=SIZES):
    """Host (NumPy) parameters: a list of (w, b) per layer, float32."""
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(np.float32),
             np.zeros(n, np.float32)) for m, n in zip(sizes[:-1], sizes[1:])]


def batch(seed: int = 1, size: int = BATCH, sizes=SIZES):
    """(inputs, one-hot labels) on the host."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((size, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], size)
    return x, np.eye(sizes[-1], dtype=np.float32)[labels]


def make(jax):
    """loss(params, x, y) and sgd_step(params, x, y) -> (params, loss) for `jax` (spmd or jax).
    x may be one example (784,) or a batch (n, 784): the loss is the mean over leading axes."""
    jnp, nn = jax.numpy, jax.nn

    def predict(params, x):
        for w, b in params[:-1]:
            x = nn.relu(x @ w + b)
        w, b = params[-1]
        return x @ w + b

    def loss(params, x, y):
        return -jnp.mean(jnp.sum(nn.log_softmax(predict(params, x)) * y, axis=-1))

    def sgd_step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        new = jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)
        return new, value

    return loss, sgd_step
