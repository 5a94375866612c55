"""spmd.nn and spmd.scipy.special against NumPy/SciPy references, their gradients against
finite differences (float64), JAX's derivative choices at kinks, and numerical stability."""
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats

import spmd
import spmd.numpy as jnp
from spmd import nn
from spmd.scipy import special
from tests.oracles import assert_close, check_grads

RNG = np.random.default_rng(0)
X = RNG.uniform(-4, 4, (3, 5)).astype(np.float32)
P = RNG.uniform(0.05, 0.95, (3, 5)).astype(np.float32)  # probabilities
POS = RNG.uniform(0.2, 5.0, (3, 5)).astype(np.float32)

# name -> (spmd function, NumPy/SciPy reference, input)
FUNCTIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0), X),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6), X * 2),
    "sigmoid": (nn.sigmoid, sp.expit, X),
    "silu": (nn.silu, lambda x: x * sp.expit(x), X),
    "softplus": (nn.softplus, lambda x: np.logaddexp(x, 0), X),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(0, -x), X),
    "gelu": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (
        x + 0.044715 * x ** 3))), X),
    "gelu exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: x * scipy.stats.norm.cdf(x), X),
    "elu": (lambda x: nn.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), X),
    "celu": (lambda x: nn.celu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2)), X),
    "selu": (nn.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(x)), X),
    "leaky_relu": (lambda x: nn.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x), X),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1), X),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1), X),
    "softmax": (nn.softmax, lambda x: sp.softmax(x, axis=-1), X),
    "softmax axis 0": (lambda x: nn.softmax(x, axis=0), lambda x: sp.softmax(x, axis=0), X),
    "log_softmax": (nn.log_softmax, lambda x: sp.log_softmax(x, axis=-1), X),
    "log_softmax axes": (lambda x: nn.log_softmax(x, axis=(0, 1)),
                         lambda x: sp.log_softmax(x, axis=(0, 1)), X),
    "logsumexp": (lambda x: nn.logsumexp(x, axis=1), lambda x: sp.logsumexp(x, axis=1), X),
    "logsumexp b": (lambda x: special.logsumexp(x, axis=0, b=P, keepdims=True),
                    lambda x: sp.logsumexp(x, axis=0, b=P, keepdims=True), X),
    "standardize": (nn.standardize, lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-5), X),
    "erf": (special.erf, sp.erf, X),
    "erfc": (special.erfc, sp.erfc, X),
    "erfinv": (special.erfinv, sp.erfinv, P * 2 - 1),
    "expit": (special.expit, sp.expit, X),
    "logit": (special.logit, sp.logit, P),
    "gammaln": (special.gammaln, sp.gammaln, POS),
    "digamma": (special.digamma, sp.digamma, POS),
    "xlogy": (lambda y: special.xlogy(P, y), lambda y: sp.xlogy(P, y), POS),
    "xlog1py": (lambda y: special.xlog1py(X, y), lambda y: sp.xlog1py(X, y), POS),
}
NOT_DIFFERENTIATED = {"digamma"}  # its derivative (polygamma) is not provided


@pytest.mark.parametrize("name", FUNCTIONS)
def test_matches_reference(name):
    fn, ref, x = FUNCTIONS[name]
    want = ref(x.astype(np.float64)).astype(np.float32)
    assert_close(spmd.jit(fn)(x), want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n not in NOT_DIFFERENTIATED])
def test_gradients(name, x64):
    fn, _, x = FUNCTIONS[name]
    check_grads(fn, (x.astype(np.float64),), order=2)


def test_derivatives_at_kinks_follow_jax():
    grad = lambda f: spmd.grad(lambda x: f(x))  # noqa: E731
    assert float(grad(nn.relu)(0.0)) == 0.0
    assert float(grad(nn.relu)(2.0)) == 1.0
    assert float(grad(nn.relu6)(0.0)) == 0.0 and float(grad(nn.relu6)(6.0)) == 0.0
    assert float(grad(nn.relu6)(3.0)) == 1.0
    assert float(grad(nn.leaky_relu)(0.0)) == 1.0
    assert float(grad(nn.hard_tanh)(1.0)) == 0.5  # clip is max/min: ties split the tangent
    assert float(grad(nn.elu)(0.0)) == 1.0
    assert float(grad(lambda y: special.xlogy(0.0, y))(0.0)) == 0.0


def test_softmax_family_is_stable_for_large_inputs():
    big = np.array([[1000.0, 1000.0, -1000.0], [-1e30, 0.0, 1e30]], np.float32)
    assert_close(nn.softmax(big), np.array([[0.5, 0.5, 0], [0, 0, 1]], np.float32))
    assert_close(nn.log_softmax(big)[0], np.array([-np.log(2), -np.log(2), -2000 - np.log(2)],
                                                  np.float32))
    assert_close(nn.logsumexp(big[0]), np.float32(1000 + np.log(2)))
    assert float(nn.logsumexp(np.full(3, -np.inf, np.float32))) == -np.inf
    g = spmd.grad(lambda x: nn.log_softmax(x)[0, 0])(big)
    assert np.isfinite(np.asarray(g)).all()
    assert_close(g[0], np.array([0.5, -0.5, 0.0], np.float32))
    assert_close(nn.softplus(np.float32(100.0)), np.float32(100.0))


def test_logsumexp_signs_and_weights():
    a = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], np.float32)
    b = np.array([[1.0, -3.0, 0.5], [1.0, -1.0, 0.0]], np.float32)
    out, sign = special.logsumexp(a, axis=1, b=b, return_sign=True)
    want, want_sign = sp.logsumexp(a, axis=1, b=b, return_sign=True)
    assert_close(out, want.astype(np.float32))
    assert_close(sign, want_sign.astype(np.float32))
    # a negative sum gives nan, a zero sum -inf
    assert_close(special.logsumexp(a, axis=1, b=b), sp.logsumexp(a, axis=1, b=b).astype(np.float32))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    labels = np.array([[0, 3], [2, 5]], np.int32)  # 5 is out of range: all zeros
    want = np.moveaxis(np.eye(4, dtype=np.float32)[np.minimum(labels, 3)] * (labels < 4)[..., None],
                       -1, axis)
    out = nn.one_hot(labels, 4, axis=axis)
    assert out.dtype == np.float32
    assert_close(out, want)
    assert nn.one_hot(labels, 4, dtype=jnp.int8).dtype == np.int8
    assert_close(spmd.jit(lambda x: nn.one_hot(x, 4, axis=axis))(labels), want)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        nn.one_hot(labels, 4.5)


def test_one_hot_needs_a_static_class_count():
    with pytest.raises(Exception, match="one_hot's num_classes"):
        spmd.jit(lambda n: nn.one_hot(np.array([0, 1]), n))(3)


def test_vmap_of_softmax_and_grad_of_cross_entropy(x64):
    logits = np.random.default_rng(1).standard_normal((4, 6))
    labels = np.array([1, 0, 5, 2])

    def loss(z):
        return -jnp.mean(jnp.sum(nn.one_hot(labels, 6, dtype=jnp.float64) * nn.log_softmax(z),
                                 axis=-1))
    check_grads(loss, (logits,))
    assert_close(spmd.vmap(nn.softmax)(logits), sp.softmax(logits, axis=-1))
