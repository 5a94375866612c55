"""A data-parallel MLP written from scratch, as JAX's examples/spmd_mnist_classifier_fromscratch.py
trained one before sharding (on the 8x8 digits, a few steps): parameters from NumPy, replicated
by jnp.broadcast_to under jax.tree.map, the batch reshaped to (devices, per device, ...), one
pmapped update whose gradients lax.psum sums over the devices, scipy.special.logsumexp."""
from functools import partial

import numpy.random as npr

import spmd as jax
import spmd.numpy as jnp
from spmd import grad, jit, lax, pmap
from spmd.scipy.special import logsumexp

import digits_data


def init_random_params(scale, layer_sizes, rng=None):
    rng = npr.RandomState(0) if rng is None else rng
    return [(scale * rng.randn(m, n).astype("float32"), scale * rng.randn(n).astype("float32"))
            for m, n, in zip(layer_sizes[:-1], layer_sizes[1:])]


def predict(params, inputs):
    activations = inputs
    for w, b in params[:-1]:
        outputs = jnp.dot(activations, w) + b
        activations = jnp.tanh(outputs)
    final_w, final_b = params[-1]
    logits = jnp.dot(activations, final_w) + final_b
    return logits - logsumexp(logits, axis=1, keepdims=True)


def loss(params, batch):
    inputs, targets = batch
    preds = predict(params, inputs)
    return -jnp.mean(jnp.sum(preds * targets, axis=1))


@jit
def accuracy(params, batch):
    inputs, targets = batch
    target_class = jnp.argmax(targets, axis=1)
    predicted_class = jnp.argmax(predict(params, inputs), axis=1)
    return jnp.mean(predicted_class == target_class)


def main(num_steps=20, batch_size=128, step_size=1.0, layer_sizes=(64, 32, 10)):
    train_images, train_labels, test_images, test_labels = digits_data.digits()
    num_devices = jax.device_count()
    # each batch reshaped to (devices, rows per device, ...): pmap maps the first axis
    split = lambda x: x.reshape((num_devices, x.shape[0] // num_devices) + x.shape[1:])
    batches = ((split(images), split(labels)) for images, labels in
               digits_data.batches(train_images, train_labels, batch_size))

    @partial(pmap, axis_name='batch')
    def spmd_update(params, batch):
        grads = grad(loss)(params, batch)
        # each device's loss is the mean over its slice: the psum of the slices' gradients,
        # over the device count, is the whole batch's
        grads = [(lax.psum(dw, 'batch'), lax.psum(db, 'batch')) for dw, db in grads]
        return [(w - step_size / num_devices * dw, b - step_size / num_devices * db)
                for (w, b), (dw, db) in zip(params, grads)]

    init_params = init_random_params(0.1, layer_sizes)
    replicate_array = lambda x: jnp.broadcast_to(x, (num_devices,) + x.shape)
    replicated_params = jax.tree.map(replicate_array, init_params)
    for _ in range(num_steps):
        replicated_params = spmd_update(replicated_params, next(batches))
    params = jax.tree.map(lambda x: x[0], replicated_params)
    train_acc = accuracy(params, (train_images, train_labels))
    test_acc = accuracy(params, (test_images, test_labels))
    print(f"Training set accuracy {train_acc:.6f}")
    print(f"Test set accuracy {test_acc:.6f}")
    print(f"Training loss {loss(params, (train_images, train_labels)):.6f}")
    return {"init_params": init_params, "params": params, "replicated": replicated_params,
            "num_devices": num_devices, "step_size": step_size, "num_steps": num_steps,
            "batch_size": batch_size}


if __name__ == "__main__":
    main()
