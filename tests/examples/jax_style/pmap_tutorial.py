"""Data-parallel linear regression, as JAX's classic pmap tutorial trains it: a NamedTuple of
parameters replicated by jax.tree.map, the data split over local_device_count()
devices, value_and_grad inside pmap with lax.pmean of the gradients and the loss, jax.tree.map
for the update, jax.device_get of the first replica; and per-device keys from random.split
drawn in a pmap (random streams agree with one device's)."""
import functools
from typing import NamedTuple

import numpy as np

import spmd as jax
import spmd.numpy as jnp

LEARNING_RATE = 0.05


class Params(NamedTuple):
    weight: jnp.ndarray
    bias: jnp.ndarray


def init(rng) -> Params:
    weights_key, bias_key = jax.random.split(rng)
    weight = jax.random.normal(weights_key, ())
    bias = jax.random.normal(bias_key, ())
    return Params(weight, bias)


def loss_fn(params: Params, xs: jnp.ndarray, ys: jnp.ndarray) -> jnp.ndarray:
    pred = params.weight * xs + params.bias
    return jnp.mean((pred - ys) ** 2)


@functools.partial(jax.pmap, axis_name='num_devices')
def update(params: Params, xs: jnp.ndarray, ys: jnp.ndarray):
    loss, grads = jax.value_and_grad(loss_fn)(params, xs, ys)
    grads = jax.lax.pmean(grads, axis_name='num_devices')
    loss = jax.lax.pmean(loss, axis_name='num_devices')
    new_params = jax.tree.map(lambda param, g: param - g * LEARNING_RATE, params, grads)
    return new_params, loss


@functools.partial(jax.pmap, axis_name='i')
def noise_per_device(key):
    """Each device draws from its own key; axis_index says which device it is."""
    return jax.random.normal(key, (3,)) + 0 * jax.lax.axis_index('i'), jax.lax.axis_index('i')


def split(arr, n_devices):
    return arr.reshape(n_devices, arr.shape[0] // n_devices, *arr.shape[1:])


def main(num_steps=50):
    rng = np.random.RandomState(0)
    true_w, true_b = 2, 4
    xs = rng.normal(size=(128, 1)).astype(np.float32)
    noise = 0.5 * rng.normal(size=(128, 1)).astype(np.float32)
    ys = xs * true_w + true_b + noise

    init_params = init(jax.random.key(123))
    n_devices = jax.local_device_count()
    replicated_params = jax.tree.map(lambda x: jnp.array([x] * n_devices), init_params)
    x_split, y_split = split(xs, n_devices), split(ys, n_devices)
    losses = []
    for i in range(num_steps):
        replicated_params, loss = update(replicated_params, x_split, y_split)
        losses.append(loss[0])
        if i % 10 == 0:
            print(f"step {i} loss {loss[0]:.6f}")
    params = jax.device_get(jax.tree.map(lambda x: x[0], replicated_params))
    print(f"weight {params.weight:.5f} bias {params.bias:.5f}")
    draws, index = noise_per_device(jax.random.split(jax.random.key(7), n_devices))
    print(f"devices {n_devices}; first draw {draws[0, 0]:.6f}; indices {index.tolist()}")
    return {"xs": xs, "ys": ys, "init_params": init_params, "params": params,
            "losses": losses, "n_devices": n_devices, "draws": draws, "index": index,
            "replicas": replicated_params}


if __name__ == "__main__":
    main()
