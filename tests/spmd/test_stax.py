"""spmd.example_libraries.stax: every layer's init_fun shape is the shape apply_fun gives, and its
values match a NumPy transcription of the layer (with random params, so the params' use is
checked, not their init); default initializers give JAX's parameters (recorded from JAX 0.10.2);
combinators, Dropout's keys and misuses."""
import math

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import random
from spmd.example_libraries import stax
from spmd.transforms import tree_util
from tests.oracles import assert_close
from tests.transforms import conv_reference

RNG = np.random.default_rng(0)
TOL = 1e-5


# ---------------------------------------------------------------------------- NumPy oracles
def _same_pads(sizes, window, strides):
    """TensorFlow's SAME rule: out = ceil(n / s), the padding split with the odd one after."""
    pads = []
    for n, k, s in zip(sizes, window, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _nhwc_specs(nd):
    """conv_reference's layout tuples for NH..C inputs and H..IO kernels."""
    lhs = (0, nd + 1, *range(1, nd + 1))
    return lhs, (nd + 1, nd, *range(nd)), lhs


def _pads(x, window, strides, padding):
    return (_same_pads(x.shape[1:-1], window, strides) if padding == "SAME"
            else [(0, 0)] * len(window))


def np_conv(x, w, strides, padding):
    """NHWC input, HWIO kernel: cross-correlation, as XLA convolves."""
    window = w.shape[:-2]
    return conv_reference.conv(x, w, strides, _pads(x, window, strides, padding),
                               specs=_nhwc_specs(len(window)))


def np_conv_transpose(x, w, strides, out_sizes):
    """The adjoint of a strided convolution: each input element adds its value times the
    flipped kernel at (its position * stride); the result is cut or zero-extended to
    out_sizes (VALID: max(n*s, (n-1)*s+k); SAME with k <= s: n*s)."""
    window = w.shape[:-2]
    spatial = x.shape[1:-1]
    full = [(n - 1) * s + k for n, s, k in zip(spatial, strides, window)]
    size = [max(f, o) for f, o in zip(full, out_sizes)]
    out = np.zeros((x.shape[0], *size, w.shape[-1]), np.float64)
    flipped = w[tuple(slice(None, None, -1) for _ in window)]
    for idx in np.ndindex(*spatial):
        sl = tuple(slice(i * s, i * s + k) for i, s, k in zip(idx, strides, window))
        out[(slice(None), *sl)] += np.tensordot(x[(slice(None), *idx)], flipped, axes=([1], [-2])
                                                ).reshape(x.shape[0], *window, w.shape[-1])
    return out[(slice(None), *(slice(0, o) for o in out_sizes))]


def np_pool(x, window, strides, padding, kind):
    """NHWC pooling; 'avg' divides by the number of real (unpadded) elements in each window."""
    pads = [(0, 0), *_pads(x, window, strides, padding), (0, 0)]
    window, strides = (1, *window, 1), (1, *strides, 1)
    if kind == "max":
        return conv_reference.reduce_window(x, -np.inf, np.maximum, window, strides, pads)
    total = conv_reference.reduce_window(x, 0.0, np.add, window, strides, pads)
    if kind == "sum":
        return total
    return total / conv_reference.reduce_window(np.ones_like(x), 0.0, np.add, window, strides,
                                                pads)


def _nchw(f):
    """A NHWC oracle applied to NCHW inputs (and OIHW kernels)."""
    def oracle(x, *w):
        out = f(np.moveaxis(x, 1, -1), *(np.transpose(k, (2, 3, 1, 0)) for k in w))
        return np.moveaxis(out, -1, 1)
    return oracle


def np_log_softmax(x):
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> (layer, input shape, oracle(params, x)); params are replaced by random values first
LAYERS = {
    "Dense": (stax.Dense(4), (2, 3), lambda p, x: x @ p[0] + p[1]),
    "Dense on 3-d input": (stax.Dense(2), (2, 2, 3), lambda p, x: x @ p[0] + p[1]),
    "Conv SAME strided": (stax.Conv(3, (3, 2), (2, 1), "SAME"), (2, 5, 4, 2),
                          lambda p, x: np_conv(x, p[0], (2, 1), "SAME") + p[1]),
    "Conv VALID": (stax.Conv(2, (2, 2)), (1, 4, 3, 3),
                   lambda p, x: np_conv(x, p[0], (1, 1), "VALID") + p[1]),
    "GeneralConv NCHW/OIHW": (
        stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 3, (2, 3), (1, 2), "SAME"), (2, 2, 4, 5),
        lambda p, x: _nchw(lambda x, w: np_conv(x, w, (1, 2), "SAME"))(x, p[0]) + p[1]),
    "ConvTranspose VALID strided": (
        stax.ConvTranspose(2, (3, 2), (2, 2)), (1, 3, 2, 2),
        lambda p, x: np_conv_transpose(x, p[0], (2, 2), (7, 4)) + p[1]),
    "ConvTranspose SAME k<=s": (
        stax.ConvTranspose(3, (2, 2), (2, 3), "SAME"), (2, 2, 3, 1),
        lambda p, x: np_conv_transpose(x, p[0], (2, 3), (4, 9)) + p[1]),
    "Conv1DTranspose VALID": (stax.Conv1DTranspose(2, (2,), (3,)), (2, 3, 2),
                              lambda p, x: np_conv_transpose(x, p[0], (3,), (9,)) + p[1]),
    "BatchNorm": (stax.BatchNorm(), (4, 3, 2, 2),
                  lambda p, x: (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)
                  * p[1] + p[0]),
    "BatchNorm axis 0, no scale": (
        stax.BatchNorm(axis=0, scale=False), (5, 3),
        lambda p, x: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + p[0]),
    "Tanh": (stax.Tanh, (2, 3), lambda p, x: np.tanh(x)),
    "Relu": (stax.Relu, (2, 3), lambda p, x: np.maximum(x, 0)),
    "Exp": (stax.Exp, (2, 3), lambda p, x: np.exp(x)),
    "LogSoftmax": (stax.LogSoftmax, (2, 4), lambda p, x: np_log_softmax(x)),
    "Softmax": (stax.Softmax, (2, 4), lambda p, x: np.exp(np_log_softmax(x))),
    "Softplus": (stax.Softplus, (2, 3), lambda p, x: np.logaddexp(x, 0)),
    "Sigmoid": (stax.Sigmoid, (2, 3), lambda p, x: 1 / (1 + np.exp(-x))),
    "Elu": (stax.Elu, (2, 3), lambda p, x: np.where(x > 0, x, np.expm1(x))),
    "LeakyRelu": (stax.LeakyRelu, (2, 3), lambda p, x: np.where(x > 0, x, 0.01 * x)),
    "Selu": (stax.Selu, (2, 3),
             lambda p, x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    "Gelu": (stax.Gelu, (2, 3), lambda p, x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "Identity": (stax.Identity, (2, 3), lambda p, x: x),
    "Flatten": (stax.Flatten, (2, 3, 2, 2), lambda p, x: x.reshape(2, 12)),
    "MaxPool": (stax.MaxPool((2, 2), (2, 2)), (2, 4, 6, 3),
                lambda p, x: np_pool(x, (2, 2), (2, 2), "VALID", "max")),
    "MaxPool SAME": (stax.MaxPool((3, 2), (2, 1), "SAME"), (1, 5, 4, 2),
                     lambda p, x: np_pool(x, (3, 2), (2, 1), "SAME", "max")),
    "SumPool": (stax.SumPool((2, 3), (1, 2)), (2, 3, 5, 2),
                lambda p, x: np_pool(x, (2, 3), (1, 2), "VALID", "sum")),
    "AvgPool SAME (edge windows smaller)": (
        stax.AvgPool((3, 3), (2, 2), "SAME"), (2, 5, 4, 2),
        lambda p, x: np_pool(x, (3, 3), (2, 2), "SAME", "avg")),
    "AvgPool NCHW spec": (
        stax.AvgPool((2, 2), (1, 1), "SAME", spec="NCHW"), (2, 3, 3, 4),
        lambda p, x: _nchw(lambda x: np_pool(x, (2, 2), (1, 1), "SAME", "avg"))(x)),
    "serial": (stax.serial(stax.Dense(3), stax.Relu, stax.Dense(2)), (4, 2),
               lambda p, x: np.maximum(x @ p[0][0] + p[0][1], 0) @ p[2][0] + p[2][1]),
    "FanOut, parallel, FanInSum": (
        stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Tanh), stax.FanInSum),
        (2, 3), lambda p, x: x @ p[1][0][0] + p[1][0][1] + np.tanh(x)),
    "FanInConcat": (
        stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(2), stax.Identity),
                    stax.FanInConcat(axis=1)),
        (3, 4), lambda p, x: np.concatenate([x @ p[1][0][0] + p[1][0][1], x], 1)),
    "shape_dependent": (stax.shape_dependent(lambda shape: stax.Dense(shape[-1] * 2)), (2, 3),
                        lambda p, x: x @ p[0] + p[1]),
}


def _randomized(params):
    return tree_util.tree_map(
        lambda p: RNG.standard_normal(np.shape(p)).astype(np.float32), params)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_shape_and_values_match_numpy(name):
    (init_fun, apply_fun), in_shape, oracle = LAYERS[name]
    out_shape, params = init_fun(random.PRNGKey(0), in_shape)
    params = _randomized(params)
    x = RNG.standard_normal(in_shape).astype(np.float32)
    out = apply_fun(params, jnp.asarray(x))
    assert tuple(out_shape) == out.shape
    expected = oracle(tree_util.tree_map(lambda p: np.asarray(p, np.float64), params),
                      x.astype(np.float64))
    assert_close(out, expected.astype(np.float32), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("layer, in_shape", [
    (stax.ConvTranspose(2, (3, 3), (1, 2), "SAME"), (1, 4, 5, 2)),
    (stax.Conv1DTranspose(1, (4,), (2,), "SAME"), (2, 5, 3)),
    (stax.GeneralConvTranspose(("NCH", "OIH", "NCH"), 2, (3,), (2,)), (1, 2, 4)),
    (stax.Conv(2, (3, 3), (2, 2), "SAME"), (1, 7, 6, 1)),
    (stax.AvgPool((3,), (2,), "SAME", spec="NCH"), (2, 3, 7)),
])
def test_init_shape_is_the_shape_apply_gives(layer, in_shape):
    """Where the NumPy transcription is not written (kernels wider than the stride with SAME):
    the shape init_fun promises is the one the lax operation gives."""
    init_fun, apply_fun = layer
    out_shape, params = init_fun(random.PRNGKey(1), in_shape)
    assert tuple(out_shape) == apply_fun(params, jnp.ones(in_shape)).shape


def test_batch_dimension_may_be_unknown_at_init():
    """JAX's examples init with a batch of -1 (mnist_classifier: (-1, 28 * 28))."""
    init_fun, _ = stax.serial(stax.Dense(5), stax.Relu, stax.Dense(2), stax.LogSoftmax)
    out_shape, params = init_fun(random.key(0), (-1, 7))
    assert out_shape == (-1, 2)
    assert [np.shape(p) for layer in params for p in layer] == [(7, 5), (5,), (5, 2), (2,)]


# ---------------------------------------------------------------------------- initializers
# recorded from JAX 0.10.2: stax.Dense(3)[0](jax.random.key(0), (-1, 2)) and
# stax.Conv(2, (2, 1), padding="SAME")[0](jax.random.key(1), (1, 3, 3, 2))
JAX_DENSE_W = [[0.6768398284912109, -0.6133092045783997, -0.5087803602218628],
               [-0.7833040356636047, -0.5902707576751709, 0.4019116163253784]]
JAX_DENSE_B = [-0.024424556642770767, -0.020356804132461548, 0.0020554421935230494]
JAX_CONV_W = [0.2873382866382599, -0.3889599144458771, 0.48533958196640015, -0.5076345801353455,
              -0.9467520117759705, 0.739551842212677, 0.2748251259326935, -0.14910152554512024]
JAX_CONV_B = [-2.4392002728745865e-07, 1.22870119412255e-07]


def test_default_initializers_give_jaxs_parameters_bit_for_bit():
    _, (w, b) = stax.Dense(3)[0](random.key(0), (-1, 2))
    np.testing.assert_array_equal(np.asarray(w), np.float32(JAX_DENSE_W))
    np.testing.assert_array_equal(np.asarray(b), np.float32(JAX_DENSE_B))
    _, (w, b) = stax.Conv(2, (2, 1), padding="SAME")[0](random.key(1), (1, 3, 3, 2))
    assert w.shape == (2, 1, 2, 2) and b.shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(np.asarray(w).ravel(), np.float32(JAX_CONV_W))
    np.testing.assert_array_equal(np.asarray(b).ravel(), np.float32(JAX_CONV_B))


def test_stax_reexports_jax_nn_names_and_its_old_aliases():
    assert stax.glorot is stax.glorot_normal is spmd.nn.initializers.glorot_normal
    assert stax.randn is stax.normal is spmd.nn.initializers.normal
    assert stax.logsoftmax is stax.log_softmax is spmd.nn.log_softmax
    assert stax.zeros is spmd.nn.initializers.zeros and stax.relu is spmd.nn.relu


def test_batchnorm_params_follow_center_and_scale():
    for center, scale in [(True, True), (False, True), (True, False), (False, False)]:
        _, (beta, gamma) = stax.BatchNorm(axis=(0, 1), center=center, scale=scale)[0](
            random.PRNGKey(0), (4, 2, 3))
        assert (beta.shape == (3,)) if center else beta == ()
        assert (gamma.shape == (3,)) if scale else gamma == ()
    _, (beta, gamma) = stax.BatchNorm()[0](random.PRNGKey(0), (2, 2, 2, 3))
    np.testing.assert_array_equal(np.asarray(beta), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(gamma), np.ones(3))


# ---------------------------------------------------------------------------- Dropout and keys
def test_dropout_keeps_with_probability_rate_and_rescales():
    """JAX's stax reads `rate` as the probability of keeping: kept values are x / rate."""
    init_fun, apply_fun = stax.Dropout(0.75)
    x = np.full((200, 50), 3.0, np.float32)
    assert init_fun(random.PRNGKey(0), x.shape) == (x.shape, ())
    out = np.asarray(apply_fun((), x, rng=random.PRNGKey(5)))
    assert set(np.unique(out)) == {0.0, np.float32(3.0 / 0.75)}
    assert abs((out != 0).mean() - 0.75) < 0.02
    keep = np.asarray(random.bernoulli(random.PRNGKey(5), 0.75, x.shape))
    np.testing.assert_array_equal(out != 0, keep)
    np.testing.assert_array_equal(np.asarray(stax.Dropout(0.5, mode="test")[1]((), x,
                                                                              rng=1)), x)


def test_dropout_without_a_key_says_how_to_pass_one():
    with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key.*rng="):
        stax.Dropout(0.5)[1]((), jnp.ones(3))


def test_serial_gives_each_layer_its_own_split_key():
    """serial splits the apply key into one per layer (the i-th layer gets split(rng, n)[i])."""
    _, apply_fun = stax.serial(stax.Identity, stax.Dropout(0.5))
    x = jnp.ones((8, 8))
    rng = random.PRNGKey(7)
    out = np.asarray(apply_fun([(), ()], x, rng=rng))
    keep = np.asarray(random.bernoulli(random.split(rng, 2)[1], 0.5, (8, 8)))
    np.testing.assert_array_equal(out, np.where(keep, 2.0, 0.0))


def test_stax_net_under_jit_and_grad_matches_finite_differences():
    init_fun, apply_fun = stax.serial(stax.Conv(2, (2, 2)), stax.Tanh, stax.AvgPool((2, 2)),
                                      stax.Flatten, stax.Dense(1))
    _, params = init_fun(random.PRNGKey(0), (1, 4, 4, 1))
    x = RNG.standard_normal((1, 4, 4, 1)).astype(np.float32)
    loss = spmd.jit(lambda p: jnp.sum(apply_fun(p, x) ** 2))
    grads = spmd.grad(loss)(params)
    direction = _randomized(params)
    eps = 1e-2
    shifted = [loss(tree_util.tree_map(lambda p, d, step=step: p + step * d, params, direction))
               for step in (eps, -eps)]
    numeric = (float(shifted[0]) - float(shifted[1])) / (2 * eps)
    analytic = sum(float(jnp.vdot(g, d)) for g, d in zip(tree_util.tree_leaves(grads),
                                                         tree_util.tree_leaves(direction)))
    assert abs(numeric - analytic) < 2e-2 * max(1.0, abs(analytic))
