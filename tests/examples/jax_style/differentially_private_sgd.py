"""DP-SGD on a small convolutional net, as JAX's examples/differentially_private_sgd.py trains
one (on the 8x8 digits, a few steps): stax Conv/MaxPool/Flatten, per-example gradients by vmap
of grad, each clipped to an l2 norm, summed, noised from random.normal and averaged."""
import itertools

import spmd.numpy as jnp
from spmd import grad, jit, random, vmap
from spmd.example_libraries import optimizers, stax
from spmd.tree_util import tree_flatten, tree_unflatten

import digits_data

init_random_params, predict = stax.serial(
    stax.Conv(8, (3, 3), padding='SAME', strides=(1, 1)),
    stax.Relu,
    stax.MaxPool((2, 2), (1, 1)),
    stax.Conv(16, (3, 3), padding='VALID', strides=(2, 2)),
    stax.Relu,
    stax.Flatten,
    stax.Dense(10),
)


def loss(params, batch):
    inputs, targets = batch
    logits = predict(params, inputs)
    logits = stax.logsoftmax(logits)
    return -jnp.mean(jnp.sum(logits * targets, axis=1))


def accuracy(params, batch):
    inputs, targets = batch
    target_class = jnp.argmax(targets, axis=1)
    predicted_class = jnp.argmax(predict(params, inputs), axis=1)
    return jnp.mean(predicted_class == target_class)


def clipped_grad(params, l2_norm_clip, single_example_batch):
    """The gradient of one example, scaled down to norm l2_norm_clip where it is longer."""
    grads = grad(loss)(params, single_example_batch)
    nonempty_grads, tree_def = tree_flatten(grads)
    total_grad_norm = jnp.linalg.norm(
        jnp.array([jnp.linalg.norm(neg.ravel()) for neg in nonempty_grads]))
    divisor = jnp.maximum(total_grad_norm / l2_norm_clip, 1.)
    normalized_nonempty_grads = [g / divisor for g in nonempty_grads]
    return tree_unflatten(tree_def, normalized_nonempty_grads)


def private_grad(params, batch, rng, l2_norm_clip, noise_multiplier, batch_size):
    clipped_grads = vmap(clipped_grad, (None, None, 0))(params, l2_norm_clip, batch)
    clipped_grads_flat, grads_treedef = tree_flatten(clipped_grads)
    aggregated_clipped_grads = [g.sum(0) for g in clipped_grads_flat]
    rngs = random.split(rng, len(aggregated_clipped_grads))
    noised_aggregated_clipped_grads = [
        g + l2_norm_clip * noise_multiplier * random.normal(r, g.shape)
        for r, g in zip(rngs, aggregated_clipped_grads)]
    return tree_unflatten(grads_treedef,
                          [g / batch_size for g in noised_aggregated_clipped_grads])


def shape_as_image(images, labels, dummy_dim=False):
    target_shape = (-1, 1, 8, 8, 1) if dummy_dim else (-1, 8, 8, 1)
    return jnp.reshape(images, target_shape), labels


def main(num_steps=12, batch_size=32, learning_rate=0.5, l2_norm_clip=1.0,
         noise_multiplier=0.5, seed=0):
    train_images, train_labels, test_images, test_labels = digits_data.digits()
    key = random.key(seed)
    batches = digits_data.batches(train_images, train_labels, batch_size, seed)

    opt_init, opt_update, get_params = optimizers.sgd(learning_rate)

    @jit
    def private_update(rng, i, opt_state, batch):
        params = get_params(opt_state)
        rng = random.fold_in(rng, i)
        return opt_update(i, private_grad(params, batch, rng, l2_norm_clip, noise_multiplier,
                                          batch_size), opt_state)

    _, init_params = init_random_params(key, (-1, 8, 8, 1))
    opt_state = opt_init(init_params)
    itercount = itertools.count()
    test_batch = shape_as_image(test_images, test_labels)
    initial_loss = loss(init_params, test_batch)
    for _ in range(num_steps):
        opt_state = private_update(key, next(itercount), opt_state,
                                   shape_as_image(*next(batches), dummy_dim=True))
    params = get_params(opt_state)
    test_loss, test_acc = loss(params, test_batch), accuracy(params, test_batch)
    print('Test set loss, accuracy (%): ({:.4f}, {:.2f})'.format(initial_loss, 0.0))
    print('Test set loss, accuracy (%): ({:.4f}, {:.2f})'.format(test_loss, 100 * test_acc))
    return {"params": init_params, "initial_loss": initial_loss, "test_loss": test_loss,
            "test_accuracy": test_acc}


if __name__ == "__main__":
    main()
