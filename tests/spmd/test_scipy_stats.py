"""spmd.scipy.stats against closed forms written with Python's math and statistics modules
(SciPy is not a dependency), in float64 and float32, with broadcasting of the parameters, the
values off the support, and gradients in every continuous argument by finite differences."""
import math
import statistics

import numpy as np
import pytest

import spmd
from spmd.scipy import stats
from tests.oracles import assert_close, check_grads
from tests.spmd.test_scipy_special_distributions import (integer_betainc,
                                                         regularized_gamma_p, vec)

# 6 elements each, as in test_scipy_special_distributions: eager programs compile once per shape
X = np.array([-2.5, -0.3, 0.4, 1.7, 3.0, 5.0])
LOC = np.array([0.3, -0.2, 0.0, 0.5, 1.0, 0.7])  # broadcast against X elementwise
S = 1.7
Q = np.array([0.01, 0.2, 0.5, 0.75, 0.9, 0.99])
POSX = np.array([0.3, 1.1, 2.0, 4.5, 9.0, 0.6])
UNIT = np.array([0.05, 0.3, 0.5, 0.8, 0.97, 0.4])
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
NORMAL = statistics.NormalDist()


def z(x, loc, s):
    return (x - loc) / s


def ls(f):
    """f with scale S (the table passes x and loc)."""
    return lambda x, loc: f(x, loc, S)


def norm_logcdf(x, loc, s):
    t = z(x, loc, s)
    tail = 0.5 * math.erfc(abs(t) / math.sqrt(2))
    return math.log(tail) if t < 0 else math.log1p(-tail)


def poisson_cdf(k, mu):
    return sum(math.exp(j * math.log(mu) - mu - math.lgamma(j + 1))
               for j in range(int(math.floor(k)) + 1)) if k >= 0 else 0.0


def student_logpdf(x, df, loc, s):
    t = z(x, loc, s)
    return (math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(math.pi * df)
            - math.log(s) - (df + 1) / 2 * math.log1p(t * t / df))


def beta_logpdf(x, a, b):
    return ((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - math.lgamma(a) - math.lgamma(b)
            + math.lgamma(a + b))


def gamma_logpdf(x, a, s):
    return (a - 1) * math.log(x / s) - x / s - math.lgamma(a) - math.log(s)


A_INT = np.array([1.0, 2.0, 3.0, 0.5, 2.5, 5.0])  # integer and half-integer: closed forms
B_INT = np.array([2.0, 1.0, 4.0, 3.0, 2.0, 6.0])

# name -> (spmd function, oracle on float64 scalars, arguments)
CASES = {
    "norm.logpdf": (ls(stats.norm.logpdf), lambda x, l: -z(x, l, S) ** 2 / 2 - LOG_SQRT_2PI
                    - math.log(S), (X, LOC)),
    "norm.pdf": (ls(stats.norm.pdf), lambda x, l: math.exp(-z(x, l, S) ** 2 / 2) / math.sqrt(
        2 * math.pi) / S, (X, LOC)),
    "norm.cdf": (ls(stats.norm.cdf), lambda x, l: 0.5 * math.erfc(-z(x, l, S) / math.sqrt(2)),
                 (X, LOC)),
    "norm.logcdf": (ls(stats.norm.logcdf), lambda x, l: norm_logcdf(x, l, S), (X, LOC)),
    "norm.sf": (ls(stats.norm.sf), lambda x, l: 0.5 * math.erfc(z(x, l, S) / math.sqrt(2)),
                (X, LOC)),
    "norm.logsf": (ls(stats.norm.logsf), lambda x, l: norm_logcdf(-x, -l, S), (X, LOC)),
    "norm.ppf": (ls(stats.norm.ppf), lambda q, l: l + S * NORMAL.inv_cdf(q), (Q, LOC)),
    "norm.isf": (ls(stats.norm.isf), lambda q, l: l - S * NORMAL.inv_cdf(q), (Q, LOC)),
    "logistic.logpdf": (ls(stats.logistic.logpdf), lambda x, l: -z(x, l, S) - 2 * math.log1p(
        math.exp(-z(x, l, S))) - math.log(S), (X, LOC)),
    "logistic.pdf": (ls(stats.logistic.pdf), lambda x, l: math.exp(-z(x, l, S)) / (1 + math.exp(
        -z(x, l, S))) ** 2 / S, (X, LOC)),
    "logistic.cdf": (ls(stats.logistic.cdf), lambda x, l: 1 / (1 + math.exp(-z(x, l, S))),
                     (X, LOC)),
    "logistic.sf": (ls(stats.logistic.sf), lambda x, l: 1 / (1 + math.exp(z(x, l, S))), (X, LOC)),
    "logistic.ppf": (ls(stats.logistic.ppf), lambda q, l: l + S * math.log(q / (1 - q)), (Q, LOC)),
    "logistic.isf": (ls(stats.logistic.isf), lambda q, l: l - S * math.log(q / (1 - q)), (Q, LOC)),
    "cauchy.logpdf": (ls(stats.cauchy.logpdf), lambda x, l: -math.log(math.pi * S * (1 + z(
        x, l, S) ** 2)), (X, LOC)),
    "cauchy.pdf": (ls(stats.cauchy.pdf), lambda x, l: 1 / (math.pi * S * (1 + z(x, l, S) ** 2)),
                   (X, LOC)),
    "cauchy.cdf": (ls(stats.cauchy.cdf), lambda x, l: 0.5 + math.atan(z(x, l, S)) / math.pi,
                   (X, LOC)),
    "cauchy.logcdf": (ls(stats.cauchy.logcdf), lambda x, l: math.log(
        0.5 + math.atan(z(x, l, S)) / math.pi), (X, LOC)),
    "cauchy.sf": (ls(stats.cauchy.sf), lambda x, l: 0.5 - math.atan(z(x, l, S)) / math.pi,
                  (X, LOC)),
    "cauchy.logsf": (ls(stats.cauchy.logsf), lambda x, l: math.log(
        0.5 - math.atan(z(x, l, S)) / math.pi), (X, LOC)),
    "cauchy.ppf": (ls(stats.cauchy.ppf), lambda q, l: l + S * math.tan(math.pi * (q - 0.5)),
                   (Q, LOC)),
    "cauchy.isf": (ls(stats.cauchy.isf), lambda q, l: l - S * math.tan(math.pi * (q - 0.5)),
                   (Q, LOC)),
    "laplace.logpdf": (ls(stats.laplace.logpdf), lambda x, l: -abs(z(x, l, S)) - math.log(2 * S),
                       (X, LOC)),
    "laplace.pdf": (ls(stats.laplace.pdf), lambda x, l: math.exp(-abs(z(x, l, S))) / (2 * S),
                    (X, LOC)),
    "laplace.cdf": (ls(stats.laplace.cdf), lambda x, l: 0.5 * math.exp(z(x, l, S)) if x < l else
                    1 - 0.5 * math.exp(-z(x, l, S)), (X, LOC)),
    "uniform.logpdf": (ls(stats.uniform.logpdf), lambda x, l: -math.log(S) if l <= x <= l + S
                       else -math.inf, (X, LOC)),
    "uniform.pdf": (ls(stats.uniform.pdf), lambda x, l: 1 / S if l <= x <= l + S else 0.0,
                    (X, LOC)),
    "uniform.cdf": (ls(stats.uniform.cdf), lambda x, l: min(max((x - l) / S, 0.0), 1.0), (X, LOC)),
    "uniform.ppf": (ls(stats.uniform.ppf), lambda q, l: l + S * q, (Q, LOC)),
    "t.logpdf": (lambda x, l: stats.t.logpdf(x, 3.5, l, S),
                 lambda x, l: student_logpdf(x, 3.5, l, S), (X, LOC)),
    "t.pdf": (lambda x, df: stats.t.pdf(x, df), lambda x, df: math.exp(student_logpdf(
        x, df, 0, 1)), (X, POSX)),
    "beta.logpdf": (stats.beta.logpdf, beta_logpdf, (UNIT, A_INT + 0.3, B_INT)),
    "beta.pdf": (stats.beta.pdf, lambda x, a, b: math.exp(beta_logpdf(x, a, b)),
                 (UNIT, A_INT + 0.3, B_INT)),
    "beta.cdf": (stats.beta.cdf, lambda x, a, b: integer_betainc(a, b, x),
                 (UNIT, np.ceil(A_INT), B_INT)),
    "beta.logcdf": (stats.beta.logcdf, lambda x, a, b: math.log(integer_betainc(a, b, x)),
                    (UNIT, np.ceil(A_INT), B_INT)),
    "beta.sf": (stats.beta.sf, lambda x, a, b: 1 - integer_betainc(a, b, x),
                (UNIT, np.ceil(A_INT), B_INT)),
    "beta.logsf": (stats.beta.logsf, lambda x, a, b: math.log1p(-integer_betainc(a, b, x)),
                   (UNIT, np.ceil(A_INT), B_INT)),
    "beta scaled": (lambda x, l: stats.beta.logpdf(x, 2.5, 1.5, l, 3.0),
                    lambda x, l: beta_logpdf((x - l) / 3, 2.5, 1.5) - math.log(3) if
                    0 < (x - l) / 3 < 1 else -math.inf, (X, LOC)),
    "gamma.logpdf": (lambda x, a: stats.gamma.logpdf(x, a, 0, S),
                     lambda x, a: gamma_logpdf(x, a, S), (POSX, A_INT)),
    "gamma.pdf": (stats.gamma.pdf, lambda x, a: math.exp(gamma_logpdf(x, a, 1)), (POSX, A_INT)),
    "gamma.cdf": (lambda x, a: stats.gamma.cdf(x, a, 0, S),
                  lambda x, a: regularized_gamma_p(a, x / S), (POSX, A_INT)),
    "gamma.logcdf": (stats.gamma.logcdf, lambda x, a: math.log(regularized_gamma_p(a, x)),
                     (POSX, A_INT)),
    "gamma.sf": (stats.gamma.sf, lambda x, a: 1 - regularized_gamma_p(a, x), (POSX, A_INT)),
    "gamma.logsf": (stats.gamma.logsf, lambda x, a: math.log1p(-regularized_gamma_p(a, x)),
                    (POSX, A_INT)),
}

K = np.array([-1.0, 0.0, 1.0, 2.5, 3.0, 7.0])  # off the support: -1 and 2.5
MU = np.array([0.5, 1.5, 2.0, 3.0, 4.0, 6.5])
P = np.array([0.2, 0.3, 0.6, 0.5, 0.9, 0.7])
DISCRETE = {
    "poisson.logpmf": (stats.poisson.logpmf, lambda k, mu: k * math.log(mu) - mu - math.lgamma(
        k + 1) if k >= 0 and k == int(k) else -math.inf, (K, MU)),
    "poisson.pmf": (stats.poisson.pmf, lambda k, mu: math.exp(k * math.log(mu) - mu - math.lgamma(
        k + 1)) if k >= 0 and k == int(k) else 0.0, (K, MU)),
    "poisson.cdf": (stats.poisson.cdf, poisson_cdf, (K, MU)),
    "poisson loc": (lambda k, mu: stats.poisson.logpmf(k, mu, 1), lambda k, mu: (k - 1) * math.log(
        mu) - mu - math.lgamma(k) if k >= 1 and k == int(k) else -math.inf, (K, MU)),
    "bernoulli.logpmf": (stats.bernoulli.logpmf, lambda k, p: {0: math.log1p(-p), 1: math.log(
        p)}.get(k, -math.inf), (K, P)),
    "bernoulli.pmf": (stats.bernoulli.pmf, lambda k, p: {0: 1 - p, 1: p}.get(k, 0.0), (K, P)),
    "bernoulli.cdf": (stats.bernoulli.cdf, lambda k, p: 0.0 if k < 0 else (1 - p if k < 1 else
                                                                           1.0), (K, P)),
    "bernoulli.ppf": (stats.bernoulli.ppf, lambda q, p: 0.0 if q <= 1 - p else 1.0,
                      (np.array([0.0, 0.3, 0.5, 0.5, 0.95, 1.0]), P)),
}
ALL = {**CASES, **DISCRETE}


@pytest.mark.parametrize("name", ALL)
def test_float64_against_closed_forms(name, x64):
    fn, oracle, args = ALL[name]
    assert_close(fn(*args), vec(oracle)(*args), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_float32(name):
    fn, oracle, args = ALL[name]
    args32 = tuple(a.astype(np.float32) for a in args)
    out = fn(*args32)
    assert out.dtype == np.float32
    assert_close(out, vec(oracle)(*(a.astype(np.float64) for a in args32)).astype(np.float32),
                 rtol=3e-5, atol=1e-6)


# continuous arguments only, and points away from kinks and support edges
GRADIENTS = [n for n in CASES if n.split(".")[0] not in ("uniform",) and n != "beta scaled"]


@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients(name, x64):
    fn, _, args = CASES[name]
    order = 2 if name in ("norm.logpdf", "t.logpdf", "cauchy.cdf") else 1
    check_grads(fn, args, order=order, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["poisson.logpmf", "poisson.cdf", "bernoulli.logpmf",
                                  "bernoulli.cdf"])
def test_gradients_in_the_parameter(name, x64):
    fn, _, (k, param) = DISCRETE[name]
    k = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]) if name.startswith("bernoulli") else np.array(
        [0.0, 1.0, 3.0, 7.0, 2.0, 4.0])
    check_grads(lambda p: fn(k, p), (param,), order=1, rtol=1e-4, atol=1e-6)


def test_integer_inputs_and_scalars_promote_to_float32():
    assert stats.norm.logpdf(np.arange(3)).dtype == np.float32
    assert stats.poisson.pmf(np.arange(3), 2).dtype == np.float32
    assert stats.norm.ppf(np.float16(0.3)).dtype == np.float32  # JAX returns the default float
    assert stats.norm.pdf(np.float16(0.3)).dtype == np.float16


def test_beta_parameters_out_of_range_give_nan():
    out = np.asarray(stats.beta.logpdf(0.5, np.array([-1.0, 1.0, 2.0]),
                                       np.array([2.0, 0.0, 2.0])))
    assert np.isnan(out[:2]).all() and np.isfinite(out[2])
    assert np.isnan(np.asarray(stats.uniform.ppf(np.array([-0.1, 1.1])))).all()


def test_vmap_and_grad_of_a_log_likelihood(x64):
    data = np.array([0.3, -1.2, 2.2, 0.8])

    def nll(params):
        return -spmd.numpy.sum(stats.norm.logpdf(data, params[0], spmd.numpy.exp(params[1])))
    mu, log_s = 0.4, 0.1
    s = math.exp(log_s)
    want = np.array([-np.sum(data - mu) / s ** 2, len(data) - np.sum((data - mu) ** 2) / s ** 2])
    assert_close(spmd.grad(nll)(np.array([mu, log_s])), want)
    assert_close(spmd.vmap(stats.t.logpdf, in_axes=(0, None))(X, 4.0),
                 vec(lambda x: student_logpdf(x, 4.0, 0, 1))(X))


# ---------------------------------------------------------------- multivariate_normal
def mvn_logpdf(x, mean, cov):
    n = mean.shape[-1]
    y = x - mean
    quad = np.einsum("...i,...i->...", y, np.linalg.solve(cov, y[..., None])[..., 0])
    return -0.5 * (quad + n * math.log(2 * math.pi) + np.linalg.slogdet(cov)[1])


def test_multivariate_normal_scalar_mean_and_isotropic_cov(x64):
    x = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.2]])
    mean = np.array([0.1, 0.2, -0.3])
    assert_close(stats.multivariate_normal.logpdf(x, mean, 2.5),
                 mvn_logpdf(x, mean, 2.5 * np.eye(3)))
    assert_close(stats.multivariate_normal.pdf(x[:, 0], 0.4, 2.5),
                 np.exp(-0.5 * (x[:, 0] - 0.4) ** 2 / 2.5) / np.sqrt(2 * math.pi * 2.5))
    check_grads(lambda x, m: stats.multivariate_normal.logpdf(x, m, 2.5), (x, mean), order=2)


def test_multivariate_normal_full_covariance(x64):
    if not hasattr(spmd.numpy, "linalg"):
        pytest.skip("spmd.numpy.linalg (cholesky, solve) is not in this tree")
    r = np.random.default_rng(0)
    m = r.standard_normal((2, 3, 3))
    cov = m @ np.swapaxes(m, -1, -2) + 3 * np.eye(3)  # a batch of two covariances
    x = r.standard_normal((4, 1, 3))
    mean = r.standard_normal(3)
    assert_close(stats.multivariate_normal.logpdf(x, mean, cov), mvn_logpdf(x, mean, cov),
                 rtol=1e-10)
    check_grads(lambda x, m: stats.multivariate_normal.logpdf(x, m, cov), (x, mean), order=1)


def test_multivariate_normal_errors():
    with pytest.raises(ValueError, match=r"incompatible shapes: mean \(3,\) needs cov of shape "
                                         r"\(\.\.\., 3, 3\) or a scalar, got \(2, 2\)"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(3), np.eye(2))
    with pytest.raises(NotImplementedError, match="allow_singular is not supported"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(3), 1.0, allow_singular=True)


def test_poisson_entropy_is_the_sum_over_the_support(x64):
    def entropy(mu):
        if mu == 0:
            return 0.0
        log_p = [k * math.log(mu) - mu - math.lgamma(k + 1) for k in range(1000)]
        return -sum(math.exp(lp) * lp for lp in log_p)
    mu = np.array([0.0, 0.3, 2.0, 30.0, 99.0, 150.0])  # the last one asymptotic, as in JAX
    assert_close(stats.poisson.entropy(mu), vec(entropy)(mu), rtol=1e-5)
    assert_close(stats.poisson.entropy(mu[:5]), vec(entropy)(mu[:5]), rtol=1e-12)
    assert stats.poisson.entropy(np.float32(3.0)).dtype == np.float32
    check_grads(stats.poisson.entropy, (mu[1:5],), order=1)
