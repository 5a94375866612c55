"""scikit-learn's bundled digits, shaped as JAX's examples/datasets.py shapes MNIST.

The programs beside this file import it as JAX's examples import `datasets`: it is plain NumPy,
so the same program runs under spmd or under JAX."""
import numpy as np
from sklearn.datasets import load_digits

NUM_TEST = 360


def _one_hot(labels, k=10):
    return np.array(labels[:, None] == np.arange(k), np.float32)


def digits():
    """(train_images, train_labels, test_images, test_labels): images flattened to 64 values in
    [0, 1], labels one-hot; a fixed split, 1437 to train on and 360 to test."""
    data = load_digits()
    images = (data.data / 16.0).astype(np.float32)
    labels = _one_hot(data.target)
    order = np.random.RandomState(0).permutation(len(images))
    test, train = order[:NUM_TEST], order[NUM_TEST:]
    return images[train], labels[train], images[test], labels[test]


def batches(images, labels, batch_size, seed=0):
    """Endless (images, labels) batches, the data_stream of JAX's examples: each epoch a new
    order of the rows from numpy.random.RandomState(seed), whole batches only."""
    rng = np.random.RandomState(seed)
    while True:
        perm = rng.permutation(len(images))
        for i in range(len(images) // batch_size):
            rows = perm[i * batch_size:(i + 1) * batch_size]
            yield images[rows], labels[rows]
