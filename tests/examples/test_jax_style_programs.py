"""The JAX-style programs in tests/examples/jax_style/ (JAX's own examples, written anew for
the 8x8 digits and a few steps) run unchanged on spmd, and their numbers are right: checked
against NumPy computations of the same quantities, and against the numbers the same programs
printed under JAX 0.10.2 (`spmd` aliased to `jax`, 8 forced CPU devices; random streams agree
bit for bit, float results to the last printed digits where XLA's arithmetic is the same)."""
import functools
import importlib
import os
import re
import sys

import numpy as np
import pytest

import spmd
from spmd.transforms import tree_util
from tests.oracles import assert_close

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jax_style")


@functools.cache
def program(name):
    """Imported as the script would import it: its folder first on the path (digits_data)."""
    sys.path.insert(0, PROGRAMS)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(PROGRAMS)


def printed_numbers(capsys):
    return [float(s) for s in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", capsys.readouterr().out)]


def assert_printed(capsys, jax_printed, atol=1e-4):
    """The numbers the program printed against JAX's. On this CPU they agree to the last printed
    digit; the tolerance leaves room for another CPU's XLA (other vector widths, another order
    of summation): 1e-4 for losses, one example for an accuracy (a list gives one per number)."""
    ours = printed_numbers(capsys)
    assert len(ours) == len(jax_printed), ours
    for got, printed, tol in zip(ours, jax_printed, np.broadcast_to(atol, len(ours))):
        assert abs(got - printed) <= tol, (ours, jax_printed)


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_mnist_classifier_learns_and_matches_jax(capsys):
    result = program("mnist_classifier").main()
    # JAX 0.10.2 printed: initial loss 2.404646, final loss 0.298312, test accuracy 0.8972
    assert_printed(capsys, [2.404646, 0.298312, 0.8972], atol=[1e-4, 1e-4, 1.01 / 360])
    images, labels, _, _ = program("digits_data").digits()
    h = images
    (w1, b1), _, (w2, b2), _, (w3, b3), _ = [tuple(map(np.asarray, p)) for p in
                                              result["init_params"]]
    h = np.maximum(h @ w1 + b1, 0)
    h = np.maximum(h @ w2 + b2, 0)
    numpy_loss = -np.mean(np.sum(_log_softmax(h @ w3 + b3) * labels, axis=1))
    assert_close(result["initial_loss"], np.float32(numpy_loss), rtol=1e-5, atol=1e-5)
    assert float(result["final_loss"]) < 0.2 * float(result["initial_loss"])
    assert float(result["test_accuracy"]) > 0.85


def test_mnist_vae_elbo_rises_and_matches_jax(capsys):
    result = program("mnist_vae").main()
    # JAX 0.10.2 printed the test ELBO after each epoch, then the binarized pixels' count
    assert_printed(capsys, [-28.10891, -27.33130, -26.70322])
    elbos = [float(e) for e in result["elbos"]]
    assert elbos == sorted(elbos), elbos
    binarized = np.asarray(result["binarized_test"])
    assert binarized.dtype == np.bool_ and int(binarized.sum()) == 7001  # JAX's count
    # each pixel is 1 with its intensity's probability: the rate matches the mean intensity
    assert abs(binarized.mean() - np.asarray(result["test_images"]).mean()) < 0.01


def test_differentially_private_sgd_clips_each_example_and_matches_jax(capsys):
    module = program("differentially_private_sgd")
    result = module.main()
    # JAX 0.10.2 printed: (2.3157, 0.00) before training and (2.1964, 42.22) after
    assert_printed(capsys, [2.3157, 0.00, 2.1964, 42.22], atol=[1e-4, 0, 1e-4, 101 / 360])
    assert float(result["test_loss"]) < float(result["initial_loss"])
    images, labels, _, _ = program("digits_data").digits()
    batch = module.shape_as_image(images[:3], labels[:3], dummy_dim=True)
    clipped = spmd.jit(spmd.vmap(module.clipped_grad, (None, None, 0)))(result["params"], 0.05,
                                                                        batch)
    grad_one = spmd.jit(spmd.grad(module.loss))  # one program for the loop's three calls
    for i in range(3):
        one = module.shape_as_image(images[i:i + 1], labels[i:i + 1])
        raw = [np.asarray(g) for g in tree_util.tree_leaves(grad_one(result["params"], one))]
        norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in raw))
        for c, g in zip(tree_util.tree_leaves(clipped), raw):
            assert_close(np.asarray(c)[i], (g / max(norm / 0.05, 1.0)).astype(np.float32),
                         rtol=1e-4, atol=1e-6)


def test_advi_fits_the_funnel_as_jax_does(capsys):
    result = program("advi").main()
    # JAX 0.10.2 printed these bounds (iterations 0, 20, 40), means, log stds and mesh sum
    assert_printed(capsys, [-1.722531, -1.009044, -1.688700, 0.26043, -0.03062, -0.30089,
                            -1.21374, 0.862077])
    X, Y, Z = map(np.asarray, result["mesh"])
    log_density = (-0.5 * (X / np.exp(Y)) ** 2 - Y - 0.5 * np.log(2 * np.pi)
                   - 0.5 * (Y / 1.35) ** 2 - np.log(1.35) - 0.5 * np.log(2 * np.pi))
    assert_close(Z, np.exp(log_density).astype(np.float32), rtol=1e-5, atol=1e-7)


def test_kernel_least_squares_reaches_the_closed_form(capsys):
    result = program("kernel_lsq").main()
    # JAX 0.10.2 printed: training mse 0.040254, distance to the closed form 0.005138
    assert_printed(capsys, [0.040254, 0.005138])
    xs, ys = result["xs"], np.asarray(result["ys"], np.float64)
    gram = np.exp(-0.5 * ((xs[:, None, :] - xs[None, :, :]) ** 2).sum(-1))
    assert_close(result["gram"], gram.astype(np.float32), rtol=1e-5, atol=1e-6)
    exact = np.linalg.solve(gram.T @ gram + 2 * result["regularization"] * np.eye(len(xs)),
                            gram.T @ ys)
    assert_close(result["exact"], exact.astype(np.float32), rtol=2e-3, atol=2e-3)
    assert np.linalg.norm(np.asarray(result["v"]) - exact) < 0.01


def test_pmap_tutorial_equals_full_batch_descent_and_jax(capsys):
    result = program("pmap_tutorial").main()
    # JAX 0.10.2 printed (8 devices): losses at steps 0, 10, .., 40, the fit, the first draw
    assert_printed(capsys, [32.917950, 3.172689, 0.503179, 0.243886, 0.216102, 2.02648,
                            3.94255, 1.114047], atol=[1e-4] * 7 + [2e-6])  # the draw: bit exact
    assert result["n_devices"] == 8 and np.asarray(result["index"]).tolist() == list(range(8))
    for leaf in tree_util.tree_leaves(result["replicas"]):
        assert np.all(np.asarray(leaf) == np.asarray(leaf)[0])  # every replica the same
    # pmean of equal shards' gradients is the full batch's: plain gradient descent in NumPy
    xs, ys = result["xs"].astype(np.float64), result["ys"].astype(np.float64)
    w, b = (float(p) for p in result["init_params"])
    for step in range(len(result["losses"])):
        residual = w * xs + b - ys
        assert abs(float(result["losses"][step]) - np.mean(residual ** 2)) < 1e-4 * (1 + step)
        w, b = w - 0.05 * np.mean(2 * residual * xs), b - 0.05 * np.mean(2 * residual)
    assert_close(np.float32(result["params"].weight), np.float32(w), rtol=1e-4, atol=1e-4)
    assert_close(np.float32(result["params"].bias), np.float32(b), rtol=1e-4, atol=1e-4)
    keys = spmd.random.split(spmd.random.key(7), 8)
    for i in (0, 5):  # each device drew what one device draws from the same key
        np.testing.assert_array_equal(np.asarray(result["draws"])[i],
                                      np.asarray(spmd.random.normal(keys[i], (3,))))


def test_spmd_mnist_from_scratch_equals_the_single_device_loop(capsys):
    module = program("spmd_mnist_classifier_fromscratch")
    result = module.main()
    # JAX 0.10.2 printed (8 devices): accuracies 0.842728 and 0.822222, training loss 0.667870
    assert_printed(capsys, [0.842728, 0.822222, 0.667870], atol=[1.01 / 1437, 1.01 / 360, 1e-4])
    for leaf in tree_util.tree_leaves(result["replicated"]):
        assert np.all(np.asarray(leaf) == np.asarray(leaf)[0])  # every replica the same
    # psum of the per-device mean gradients over the device count is the whole batch's: the
    # same steps on one device, each on the same 128 images
    images, labels, _, _ = program("digits_data").digits()
    grad_fn = spmd.jit(spmd.grad(module.loss))
    params = result["init_params"]
    stream = program("digits_data").batches(images, labels, result["batch_size"])
    for _ in range(result["num_steps"]):
        grads = grad_fn(params, next(stream))
        params = spmd.tree.map(lambda p, g: p - result["step_size"] * g, params, grads)
    for ours, single in zip(tree_util.tree_leaves(result["params"]), tree_util.tree_leaves(params)):
        assert_close(ours, np.asarray(single), rtol=2e-4, atol=2e-5)


def _numpy_transformer_loss(params, tokens, vocab):
    p = tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    x = p["embed"][inputs] + p["pos"][:inputs.shape[1]]
    q, k, v = (np.einsum("btd,dhk->bthk", x, w) for w in p["qkv"])
    scores = np.einsum("bqhk,bthk->bhqt", q, k) / np.sqrt(q.shape[-1])
    causal = np.tril(np.ones((x.shape[1], x.shape[1]), bool))
    scores = np.where(causal, scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    attended = np.einsum("bhqt,bthk->bqhk", probs, v)
    x = x + attended.reshape(*attended.shape[:2], -1) @ p["out"]
    h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    h = h * p["norm"]["scale"] + p["norm"]["bias"]
    u = h @ p["mlp"][0]
    gelu = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
    logits = (x + gelu @ p["mlp"][1]) @ p["embed"].T
    log_probs = _log_softmax(logits.reshape(-1, vocab)).reshape(logits.shape)
    return -np.mean(np.take_along_axis(log_probs, targets[..., None], -1))


def test_tiny_transformer_loss_equals_numpy_and_falls_as_in_jax(capsys):
    module = program("tiny_transformer")
    result = module.main()
    # JAX 0.10.2 printed: initial loss 2.44053; losses 2.44443 1.91477 1.00455; accuracy 0.9740
    assert_printed(capsys, [2.44053, 2.44443, 1.91477, 1.00455, 0.9740],
                   atol=[1e-4] * 4 + [1.01 / (16 * 12)])
    tokens = np.asarray(module.data(result["data_key"], 16))
    np.testing.assert_array_equal(tokens[:, 1:], (tokens[:, :-1] + 1) % module.VOCAB)
    params = module.init_params(result["init_key"])
    expected = _numpy_transformer_loss(params, tokens, module.VOCAB)
    assert_close(result["initial_loss"], np.float32(expected), rtol=1e-5, atol=1e-5)
    losses = [float(v) for v in result["losses"]]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("name", ["mnist_classifier", "mnist_vae", "differentially_private_sgd",
                                  "advi", "kernel_lsq", "pmap_tutorial",
                                  "spmd_mnist_classifier_fromscratch", "tiny_transformer"])
def test_programs_import_only_what_a_jax_program_imports(name):
    with open(os.path.join(PROGRAMS, name + ".py")) as f:
        imports = [line for line in f if re.match(r"\s*(import|from) ", line)]
    for line in imports:
        assert "transforms" not in line and "spmd.optim" not in line, line
        assert re.match(r"\s*(import (spmd|numpy|digits_data|functools|itertools)|from "
                        r"(spmd|functools|typing)\b)", line), line
