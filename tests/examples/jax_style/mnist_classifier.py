"""An MLP classifier on stax and optimizers.momentum, as JAX's examples/mnist_classifier.py
trains one (on the 8x8 digits, for a few steps): jit of the update, grad of the loss, a
random.key to initialize, batches drawn by NumPy (digits_data.batches)."""
import itertools

import spmd.numpy as jnp
from spmd import grad, jit, random
from spmd.example_libraries import optimizers, stax
from spmd.example_libraries.stax import Dense, LogSoftmax, Relu

import digits_data


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


def main(num_steps=40, batch_size=64, step_size=0.05, momentum_mass=0.9):
    train_images, train_labels, test_images, test_labels = digits_data.digits()
    batches = digits_data.batches(train_images, train_labels, batch_size)

    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=momentum_mass)

    @jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        return opt_update(i, grad(loss)(params, batch), opt_state)

    _, init_params = init_random_params(random.key(0), (-1, 64))
    opt_state = opt_init(init_params)
    itercount = itertools.count()
    initial_loss = loss(init_params, (train_images, train_labels))
    for _ in range(num_steps):
        opt_state = update(next(itercount), opt_state, next(batches))
    params = get_params(opt_state)
    train_loss = loss(params, (train_images, train_labels))
    test_acc = accuracy(params, (test_images, test_labels))
    print(f"initial loss {initial_loss:.6f}")
    print(f"final loss {train_loss:.6f}")
    print(f"test accuracy {test_acc:.4f}")
    return {"init_params": init_params, "initial_loss": initial_loss,
            "final_loss": train_loss, "test_accuracy": test_acc}


if __name__ == "__main__":
    main()
