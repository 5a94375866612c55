"""The closed-form samplers of spmd.random beyond uniform and normal (cauchy ... triangular):
the numbers jax 0.10.2 draws for the same key under two PRNG implementations
(tests/data/random_distributions_references.json, written by
tests/data/make_random_distribution_references.py; jax is never imported here), their moments
against closed forms, and the argument errors."""
import json
import math
import os

import ml_dtypes
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import random

with open(os.path.join(os.path.dirname(__file__), "..", "data",
                       "random_distributions_references.json")) as f:
    _REFS = json.load(f)
CALLS, DRAWS = _REFS["calls"], _REFS["draws"]
DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
          "int32": np.int32, "int8": np.int8}


def _arg(a):
    """The reference table's encoding: a list of ints is a shape, of floats a float32 array."""
    if isinstance(a, list):
        return tuple(a) if all(isinstance(e, int) for e in a) else jnp.asarray(a, jnp.float32)
    return a


def replay(key, name):
    fn_name, args, kwargs = CALLS[name]
    kwargs = {k: (tuple(v) if k == "shape" else DTYPES[v] if k == "dtype" else v)
              for k, v in kwargs.items()}
    args = [_arg(a) for a in args]
    if fn_name.startswith("grad:"):  # the gradient of the draws' sum in the first parameter
        fn = getattr(random, fn_name[5:])
        return spmd.grad(lambda a: fn(key, a, *args[1:], **kwargs).sum())(args[0])
    return getattr(random, fn_name)(key, *args, **kwargs)


# Every sampler with Threefry keys; with rbg keys only those whose code differs by
# implementation (gamma's per-element keys are split by a scan, not vmap) and a few others:
# above random_bits the samplers are one code, and each replay is a compile (~0.5 s).
REPLAYED = {"threefry2x32": None,
            "rbg": {"cauchy", "gamma", "grad_gamma", "binomial", "multivariate_normal"}}


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_draws_match_jax(impl):
    key = random.key(42, impl=impl)
    for name, (dtype, expected) in DRAWS[impl].items():
        if REPLAYED[impl] is not None and name not in REPLAYED[impl]:
            continue
        got = np.asarray(replay(key, name))
        assert got.dtype == np.dtype(DTYPES[dtype]), name
        assert got.shape == np.shape(expected), name
        want = np.asarray(expected).astype(got.dtype)
        if got.dtype.kind == "f":  # a few ulps: transcendental functions may round differently
            np.testing.assert_array_max_ulp(got, want, maxulp=4)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_raw_keys_draw_as_typed_keys():
    typed = random.key(3)
    raw = random.key_data(typed)
    np.testing.assert_array_equal(random.wald(raw, 1.5, (4,)), random.wald(typed, 1.5, (4,)))


def test_samplers_trace_under_jit_and_vmap():
    key = random.key(5)
    eager = random.triangular(key, 0., 1., 2., (3,))
    np.testing.assert_array_equal(spmd.jit(lambda k: random.triangular(k, 0., 1., 2., (3,)))(key),
                                  eager)
    keys = random.split(key, 2)
    batched = spmd.vmap(lambda k: random.laplace(k, (3,)))(keys)
    np.testing.assert_array_equal(batched[1], random.laplace(keys[1], (3,)))


# ---------------------------------------------------------------- moments vs closed forms
N = 20000


def _moments(name):
    key = random.key(11)
    cases = {  # draws (made on demand), mean, variance: closed forms from the densities
        "laplace": (lambda: random.laplace(key, (N,)), 0., 2.),
        "logistic": (lambda: random.logistic(key, (N,)), 0., math.pi ** 2 / 3),
        "lognormal": (lambda: random.lognormal(key, 0.5, (N,)), math.exp(0.125),
                      (math.exp(0.25) - 1) * math.exp(0.25)),
        "pareto": (lambda: random.pareto(key, 5.0, (N,)), 5 / 4, 5 / (16 * 3)),
        "rademacher": (lambda: random.rademacher(key, (N,)), 0., 1.),
        "rayleigh": (lambda: random.rayleigh(key, 2.0, (N,)), 2 * math.sqrt(math.pi / 2),
                     (4 - math.pi) / 2 * 4),
        "maxwell": (lambda: random.maxwell(key, (N,)), 2 * math.sqrt(2 / math.pi),
                    3 - 8 / math.pi),
        "double_sided_maxwell": (lambda: random.double_sided_maxwell(key, 1.0, 2.0, (N,)), 1.,
                                 3 * 4),
        "weibull_min": (lambda: random.weibull_min(key, 2.0, 2.0, (N,)), 2 * math.gamma(1.5),
                        4 * (math.gamma(2.) - math.gamma(1.5) ** 2)),
        "wald": (lambda: random.wald(key, 2.0, (N,)), 2., 8.),
        "triangular": (lambda: random.triangular(key, 0., 1., 4., (N,)), 5 / 3,
                       (16 + 1 - 4) / 18),
        "geometric": (lambda: random.geometric(key, 0.25, (N,)), 4., 0.75 / 0.0625),
    }
    draw, mean, var = cases[name]
    return draw(), mean, var


@pytest.mark.parametrize("name", ["laplace", "logistic", "lognormal", "pareto", "rademacher",
                                  "rayleigh", "maxwell", "double_sided_maxwell", "weibull_min",
                                  "wald", "triangular", "geometric"])
def test_moments_match_closed_forms(name):
    x, mean, var = _moments(name)
    x = np.asarray(x, np.float64)
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / N), (x.mean(), mean)
    assert abs(x.var() / var - 1) < 0.1, (x.var(), var)


def test_cauchy_quartiles_and_supports():
    key = random.key(2)
    c = np.asarray(random.cauchy(key, (N,)))
    np.testing.assert_allclose(np.quantile(c, [0.25, 0.5, 0.75]), [-1, 0, 1], atol=0.05)
    assert np.asarray(random.pareto(key, 1.0, (1000,))).min() >= 1
    tri = np.asarray(random.triangular(key, -1., 0., 2., (1000,)))
    assert tri.min() >= -1 and tri.max() <= 2
    assert set(np.unique(np.asarray(random.rademacher(key, (100,))))) == {-1, 1}
    assert np.asarray(random.geometric(key, 0.5, (1000,))).min() >= 1


# ---------------------------------------------------------------- shapes, dtypes and errors
def test_shape_rules():
    key = random.key(0)
    assert random.pareto(key, jnp.ones((2, 3))).shape == (2, 3)
    assert random.triangular(key, 0., jnp.ones(3), 2.).shape == (3,)
    assert random.lognormal(key).shape == ()
    # JAX's quirk: the parameters' shape follows `shape`, twice when `shape` is empty
    assert random.double_sided_maxwell(key, jnp.zeros(2), 1.).shape == (2, 2)
    assert random.double_sided_maxwell(key, jnp.zeros(2), 1., (3,)).shape == (3, 2)
    assert random.geometric(key, 0.5, (2,), dtype=jnp.int8).dtype == np.int8
    assert random.rademacher(key, (2,), dtype=jnp.float32).dtype == np.float32


@pytest.mark.parametrize("sampler", [random.cauchy, random.laplace, random.logistic,
                                     random.maxwell])
def test_non_float_dtype_is_refused(sampler):
    with pytest.raises(ValueError, match=f"dtype argument to `{sampler.__name__}` must be a "
                                         "float dtype, got int32"):
        sampler(random.key(0), (2,), jnp.int32)


def test_argument_errors():
    key = random.key(0)
    with pytest.raises(ValueError, match="pareto parameter shapes must be broadcast-compatible"):
        random.pareto(key, jnp.ones(3), (2,))
    with pytest.raises(ValueError, match="must be an int dtype, got float32"):
        random.geometric(key, 0.5, (2,), dtype=jnp.float32)
    with pytest.raises(ValueError, match="cannot safely cast argument of type float32 to "
                                         "bfloat16"):
        random.lognormal(key, shape=(2,), dtype=jnp.bfloat16)
    with pytest.raises(TypeError, match="shape must be a sequence"):
        random.cauchy(key, 3)
    with pytest.raises(TypeError, match="expected a PRNG key"):
        random.laplace(3, (2,))


# ---------------------------------------------------------------- gamma and its family
def _regularized_lower_gamma(a, x):
    """P(a, x) in float64 by its power series, summed in log space (the test's oracle)."""
    n = np.arange(400)
    log_terms = (a + n) * math.log(x) - x - np.array([math.lgamma(a + k + 1) for k in n])
    top = log_terms.max()
    return math.exp(top) * np.exp(log_terms - top).sum()


def test_gamma_gradient_is_the_implicit_reparameterization():
    """d sample / d a = -(dP/da) / (dP/dx) at the drawn sample, P by its series and dP/da by
    central differences."""
    a = np.array([0.3, 0.8, 1.0, 2.5, 4.0, 10.0], np.float32)
    key = random.key(7)
    x = np.asarray(random.gamma(key, a), np.float64)
    got = np.asarray(spmd.grad(lambda a: random.gamma(key, a).sum())(a))
    want = []
    for ai, xi in zip(a.astype(np.float64), x):
        h = 1e-5
        dp_da = (_regularized_lower_gamma(ai + h, xi) -
                 _regularized_lower_gamma(ai - h, xi)) / (2 * h)
        dp_dx = math.exp((ai - 1) * math.log(xi) - xi - math.lgamma(ai))
        want.append(-dp_da / dp_dx)
    np.testing.assert_allclose(got, want, rtol=2e-3)
    # loggamma's gradient is the same, divided by the sample (d log x = dx / x)
    got_log = np.asarray(spmd.grad(lambda a: random.loggamma(key, a).sum())(a))
    np.testing.assert_allclose(got_log, np.asarray(want) / x, rtol=2e-3)


def test_gamma_under_vmap_splits_each_key():
    """JAX's batching rule: each key of the batch splits over the rest of `a`. rbg, whose bits
    differ under vmap, shows the rule is the primitive's own."""
    keys = random.split(random.key(4, impl="rbg"), 3)
    a = jnp.asarray([0.5, 2.0], jnp.float32)
    batched = spmd.vmap(lambda k: random.gamma(k, a))(keys)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], random.gamma(keys[i], a))


def _dirichlet_last(key, n):
    """The last coordinate of Dirichlet(1, 2, 3) draws, after checking they lie on the simplex."""
    d = np.asarray(random.dirichlet(key, jnp.asarray([1., 2., 3.]), (n,)))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    assert d.min() >= 0
    return d[:, 2]


def _family_moments(name):
    key = random.key(13)
    n = 4000
    cases = {  # draws (made on demand), mean, variance: closed forms
        "gamma": (lambda: random.gamma(key, 3.0, (n,)), 3., 3.),
        "beta": (lambda: random.beta(key, 2.0, 3.0, (n,)), 0.4, 0.04),
        "f": (lambda: random.f(key, 6.0, 12.0, (n,)), 1.2, 2 * 144 * 16 / (6 * 100 * 8)),
        "dirichlet": (lambda: _dirichlet_last(key, n), 0.5, 3 * 3 / (36 * 7)),
    }
    draw, mean, var = cases[name]
    return draw(), mean, var, n


# (chisquare, t, generalized_normal: their bits are JAX's, above; these few guard the algebra)
@pytest.mark.parametrize("name", ["gamma", "beta", "f", "dirichlet"])
def test_gamma_family_moments(name):
    x, mean, var, n = _family_moments(name)
    x = np.asarray(x, np.float64)
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / n), (x.mean(), mean)
    assert abs(x.var() / var - 1) < 0.2, (x.var(), var)


def test_gamma_family_supports():
    key = random.key(1)
    b = np.asarray(random.ball(key, 3, 2, (500,)))
    assert b.shape == (500, 3)
    r2 = (b ** 2).sum(-1)
    assert r2.max() <= 1 and abs(r2.mean() - 3 / 5) < 0.05  # E|x|^2 = d/(d+2) in the ball
    small = np.asarray(random.loggamma(key, jnp.full((4,), 1e-3, jnp.float32)))
    assert np.isfinite(small).all() and small.min() < -100  # gamma would round these to 0


def test_gamma_family_errors():
    key = random.key(0)
    with pytest.raises(ValueError, match="dirichlet requires alpha.ndim >= 1"):
        random.dirichlet(key, 1.0)
    with pytest.raises(ValueError, match="dtype argument to `gamma` must be a float dtype"):
        random.gamma(key, 1.0, dtype=jnp.int32)
    with pytest.raises(ValueError, match="gamma parameter shapes must be broadcast-compatible"):
        random.gamma(key, jnp.ones(3), (2,))
    with pytest.raises(TypeError, match="ball: d must be a non-negative int"):
        random.ball(key, 2.5)
    with pytest.raises(ValueError, match="cannot safely cast argument of type float32 to "
                                         "float16"):
        random.beta(key, jnp.ones(2), 1.0, dtype=jnp.float16)


# ---------------------------------------------------------------- vectors, matrices, keys
def test_multivariate_normal_covariance():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
    x = np.asarray(random.multivariate_normal(random.key(0), jnp.asarray([1., -2.]),
                                              jnp.asarray(cov), (4000,)), np.float64)
    np.testing.assert_allclose(x.mean(0), [1, -2], atol=0.1)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.15)


def test_orthogonal_is_orthogonal():
    q = np.asarray(random.orthogonal(random.key(1), 3, (2,)), np.float64)
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(3), (2, 3, 3)),
                               atol=1e-5)
    wide = np.asarray(random.orthogonal(random.key(1), 2, m=4), np.float64)
    np.testing.assert_allclose(wide @ wide.T, np.eye(2), atol=1e-5)  # orthonormal rows


def test_matrix_sampler_errors():
    key, mean, cov = random.key(0), jnp.zeros(2), jnp.eye(2)
    with pytest.raises(ValueError, match="method must be one of"):
        random.multivariate_normal(key, mean, cov, method="qr")
    with pytest.raises(ValueError, match="requires mean.ndim >= 1"):
        random.multivariate_normal(key, 0., cov)
    with pytest.raises(ValueError, match=r"requires cov.shape == \(..., n, n\) for n=2"):
        random.multivariate_normal(key, mean, jnp.eye(3))
    with pytest.raises(TypeError, match="orthogonal: n must be a non-negative int"):
        random.orthogonal(key, 2.5)


def test_key_dtype_and_clone():
    assert random.key_dtype() == random.key(0).dtype
    assert random.key_dtype("rbg") == random.key(0, impl="rbg").dtype
    key = random.key(9)
    np.testing.assert_array_equal(random.uniform(random.clone(key), (3,)),
                                  random.uniform(key, (3,)))


@pytest.mark.parametrize("lam", [3.0, 40.0])  # Knuth's algorithm, then Hormann's rejection
def test_poisson_moments(lam):
    x = np.asarray(random.poisson(random.key(8), lam, (4000,)), np.float64)
    assert abs(x.mean() - lam) < 5 * math.sqrt(lam / 4000)
    assert abs(x.var() / lam - 1) < 0.15


def test_poisson_errors():
    with pytest.raises(NotImplementedError, match="only implemented for the threefry2x32 RNG"):
        random.poisson(random.key(0, impl="rbg"), 1.0)
    with pytest.raises(ValueError, match="dtype argument to `poisson` must be an int dtype"):
        random.poisson(random.key(0), 1.0, dtype=jnp.float32)


@pytest.mark.parametrize("n,p", [(20.0, 0.3), (200.0, 0.6)])  # inversion, then BTRS
def test_binomial_moments(n, p):
    x = np.asarray(random.binomial(random.key(6), n, p, (4000,)), np.float64)
    assert x.min() >= 0 and x.max() <= n and (x == np.floor(x)).all()
    var = n * p * (1 - p)
    assert abs(x.mean() - n * p) < 5 * math.sqrt(var / 4000)
    assert abs(x.var() / var - 1) < 0.15


def test_binomial_edge_values():
    out = np.asarray(random.binomial(random.key(0), jnp.asarray([-1., np.inf, 5., 5.]),
                                     jnp.asarray([0.5, 0.5, np.nan, 1.0])))
    assert np.isnan(out[0]) and out[1] == np.inf and np.isnan(out[2]) and out[3] == 5


def test_multinomial_counts_sum_to_n():
    p = jnp.asarray([0.2, 0.3, 0.5])
    counts = np.asarray(random.multinomial(random.key(2), 30., p, shape=(500, 3)), np.float64)
    np.testing.assert_array_equal(counts.sum(-1), 30)
    np.testing.assert_allclose(counts.mean(0), [6, 9, 15], atol=0.5)
    with pytest.raises(ValueError, match="needs a last axis of categories"):
        random.multinomial(random.key(2), 3., 0.5)
