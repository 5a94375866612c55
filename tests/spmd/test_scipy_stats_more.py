"""The rest of jax.scipy.stats' families (expon, chi2, pareto, gumbel_r/l, gennorm, vonmises,
wrapcauchy, truncnorm, geom, binom, nbinom, betabinom, multinomial, dirichlet) against closed
forms written with Python's math module, off the support too, and gradients by finite
differences. Six-element inputs, as in test_scipy_stats: one compile per op for all cases."""
import math

import numpy as np
import pytest

import spmd
from spmd.scipy import stats
from tests.oracles import assert_close, check_grads
from tests.spmd.test_scipy_special_distributions import regularized_gamma_p, vec
from tests.spmd.test_scipy_stats import LOC, POSX, Q, S, X, A_INT, K, P, MU, UNIT, ls, z

ERF_SCALE = 1 / math.sqrt(2)


def expon_logsf(x, loc):
    return 0.0 if x < loc else -z(x, loc, S)


def pareto_y(x, loc):
    return (x - loc) / S


def gumbel_r_logcdf(x, loc):
    return -math.exp(-z(x, loc, S))


def gumbel_l_logsf(x, loc):
    return -math.exp(z(x, loc, S))


def bessel_i0(k):
    return sum((k / 2) ** (2 * m) / math.factorial(m) ** 2 for m in range(60))


def gauss_mass(a, b):
    """Phi(b) - Phi(a) from erfc, exact in the right tail."""
    return 0.5 * (math.erfc(a * ERF_SCALE) - math.erfc(b * ERF_SCALE))


TA, TB = -1.0, 1.5  # truncnorm's bounds (standardized)
DF = 2 * A_INT  # whole degrees of freedom: the chi2 cdf is P(df / 2, x / 2) at half-integers
BP = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 2.5])  # shapes
CASES = {
    "expon.logpdf": (ls(stats.expon.logpdf), lambda x, l: -math.inf if x < l else
                     -z(x, l, S) - math.log(S), (X, LOC)),
    "expon.pdf": (ls(stats.expon.pdf), lambda x, l: 0.0 if x < l else
                  math.exp(-z(x, l, S)) / S, (X, LOC)),
    "expon.cdf": (ls(stats.expon.cdf), lambda x, l: 0.0 if x < l else
                  -math.expm1(-z(x, l, S)), (X, LOC)),
    "expon.logcdf": (ls(stats.expon.logcdf), lambda x, l: math.log(-math.expm1(-z(x, l, S))),
                     (X + 3, LOC)),
    "expon.sf": (ls(stats.expon.sf), lambda x, l: math.exp(expon_logsf(x, l)), (X, LOC)),
    "expon.logsf": (ls(stats.expon.logsf), expon_logsf, (X, LOC)),
    "expon.ppf": (ls(stats.expon.ppf), lambda q, l: l - S * math.log1p(-q), (Q, LOC)),
    "chi2.logpdf": (lambda x, df: stats.chi2.logpdf(x, df, 0, S), lambda x, df: (
        (df / 2 - 1) * math.log(x / S) - x / S / 2 - math.lgamma(df / 2) - df / 2 * math.log(2)
        - math.log(S)), (POSX, DF)),
    "chi2.pdf": (stats.chi2.pdf, lambda x, df: x ** (df / 2 - 1) * math.exp(-x / 2) / (
        2 ** (df / 2) * math.gamma(df / 2)), (POSX, DF)),
    "chi2.cdf": (lambda x, df: stats.chi2.cdf(x, df, 0, S),
                 lambda x, df: regularized_gamma_p(df / 2, x / S / 2), (POSX, DF)),
    "chi2.logcdf": (stats.chi2.logcdf, lambda x, df: math.log(regularized_gamma_p(df / 2, x / 2)),
                    (POSX, DF)),
    "chi2.sf": (stats.chi2.sf, lambda x, df: 1 - regularized_gamma_p(df / 2, x / 2), (POSX, DF)),
    "chi2.logsf": (stats.chi2.logsf, lambda x, df: math.log1p(-regularized_gamma_p(df / 2, x / 2)),
                   (POSX, DF)),
    "pareto.logpdf": (lambda x, b: stats.pareto.logpdf(x, b, -2.0, S), lambda x, b: math.log(b / S)
                      - (b + 1) * math.log(pareto_y(x, -2.0)) if pareto_y(x, -2.0) >= 1
                      else -math.inf, (X, BP)),
    "pareto.pdf": (stats.pareto.pdf, lambda x, b: b / x ** (b + 1) if x >= 1 else 0.0,
                   (POSX, BP)),
    "pareto.cdf": (stats.pareto.cdf, lambda x, b: 1 - x ** -b if x >= 1 else 0.0, (POSX, BP)),
    "pareto.logcdf": (stats.pareto.logcdf, lambda x, b: math.log1p(-x ** -b) if x >= 1 else
                      -math.inf, (POSX, BP)),
    "pareto.sf": (stats.pareto.sf, lambda x, b: x ** -b if x >= 1 else 1.0, (POSX, BP)),
    "pareto.logsf": (stats.pareto.logsf, lambda x, b: -b * math.log(x) if x >= 1 else 0.0,
                     (POSX, BP)),
    "pareto.ppf": (stats.pareto.ppf, lambda q, b: (1 - q) ** (-1 / b), (Q, BP)),
    "gumbel_r.logpdf": (ls(stats.gumbel_r.logpdf), lambda x, l: -z(x, l, S) - math.exp(
        -z(x, l, S)) - math.log(S), (X, LOC)),
    "gumbel_r.pdf": (ls(stats.gumbel_r.pdf), lambda x, l: math.exp(
        -z(x, l, S) - math.exp(-z(x, l, S))) / S, (X, LOC)),
    "gumbel_r.logcdf": (ls(stats.gumbel_r.logcdf), gumbel_r_logcdf, (X, LOC)),
    "gumbel_r.cdf": (ls(stats.gumbel_r.cdf), lambda x, l: math.exp(gumbel_r_logcdf(x, l)),
                     (X, LOC)),
    "gumbel_r.sf": (ls(stats.gumbel_r.sf), lambda x, l: -math.expm1(gumbel_r_logcdf(x, l)),
                    (X, LOC)),
    "gumbel_r.logsf": (ls(stats.gumbel_r.logsf), lambda x, l: math.log(-math.expm1(
        gumbel_r_logcdf(x, l))), (X, LOC)),
    "gumbel_r.ppf": (ls(stats.gumbel_r.ppf), lambda q, l: l - S * math.log(-math.log(q)),
                     (Q, LOC)),
    "gumbel_l.logpdf": (ls(stats.gumbel_l.logpdf), lambda x, l: z(x, l, S) - math.exp(
        z(x, l, S)) - math.log(S), (X, LOC)),
    "gumbel_l.pdf": (ls(stats.gumbel_l.pdf), lambda x, l: math.exp(
        z(x, l, S) - math.exp(z(x, l, S))) / S, (X, LOC)),
    "gumbel_l.logcdf": (ls(stats.gumbel_l.logcdf), lambda x, l: math.log(-math.expm1(
        gumbel_l_logsf(x, l))), (X, LOC)),
    "gumbel_l.cdf": (ls(stats.gumbel_l.cdf), lambda x, l: -math.expm1(gumbel_l_logsf(x, l)),
                     (X, LOC)),
    "gumbel_l.logsf": (ls(stats.gumbel_l.logsf), gumbel_l_logsf, (X, LOC)),
    "gumbel_l.sf": (ls(stats.gumbel_l.sf), lambda x, l: math.exp(gumbel_l_logsf(x, l)),
                    (X, LOC)),
    "gumbel_l.ppf": (ls(stats.gumbel_l.ppf), lambda q, l: l + S * math.log(-math.log1p(-q)),
                     (Q, LOC)),
    "gennorm.logpdf": (stats.gennorm.logpdf, lambda x, b: math.log(b / 2) - math.lgamma(1 / b)
                       - abs(x) ** b, (X, BP)),
    "gennorm.pdf": (stats.gennorm.pdf, lambda x, b: b / 2 / math.gamma(1 / b) * math.exp(
        -abs(x) ** b), (X, BP)),
    # beta 2: (1 + erf(x)) / 2; beta 1: Laplace's cdf
    "gennorm.cdf": (stats.gennorm.cdf, lambda x, b: 0.5 * (1 + math.erf(x)) if b == 2 else (
        0.5 * math.exp(x) if x < 0 else 1 - 0.5 * math.exp(-x)),
        (X, np.array([2.0, 1.0, 2.0, 1.0, 2.0, 1.0]))),
    "vonmises.logpdf": (stats.vonmises.logpdf, lambda x, k: k * math.cos(x) - math.log(
        2 * math.pi * bessel_i0(k)), (X, BP)),
    "vonmises.pdf": (stats.vonmises.pdf, lambda x, k: math.exp(k * math.cos(x)) / (
        2 * math.pi * bessel_i0(k)), (X, BP)),
    "wrapcauchy.logpdf": (stats.wrapcauchy.logpdf, lambda x, c: math.log(
        (1 - c * c) / (2 * math.pi * (1 + c * c - 2 * c * math.cos(x))))
        if 0 <= x <= 2 * math.pi else -math.inf, (X, UNIT)),
    "wrapcauchy.pdf": (stats.wrapcauchy.pdf, lambda x, c: (1 - c * c) / (
        2 * math.pi * (1 + c * c - 2 * c * math.cos(x))) if 0 <= x <= 2 * math.pi else 0.0,
        (X, UNIT)),
    "truncnorm.logpdf": (ls(lambda x, l, s: stats.truncnorm.logpdf(x, TA, TB, l, s)),
                         lambda x, l: -z(x, l, S) ** 2 / 2 - 0.5 * math.log(2 * math.pi)
                         - math.log(S * gauss_mass(TA, TB)) if TA <= z(x, l, S) <= TB
                         else -math.inf, (X, LOC)),
    "truncnorm.pdf": (ls(lambda x, l, s: stats.truncnorm.pdf(x, TA, TB, l, s)),
                      lambda x, l: math.exp(-z(x, l, S) ** 2 / 2) / math.sqrt(2 * math.pi) / (
                          S * gauss_mass(TA, TB)) if TA <= z(x, l, S) <= TB else 0.0, (X, LOC)),
    "truncnorm.cdf": (ls(lambda x, l, s: stats.truncnorm.cdf(x, TA, TB, l, s)),
                      lambda x, l: gauss_mass(TA, min(max(z(x, l, S), TA), TB)) / gauss_mass(
                          TA, TB), (X, LOC)),
    "truncnorm.sf": (ls(lambda x, l, s: stats.truncnorm.sf(x, TA, TB, l, s)),
                     lambda x, l: gauss_mass(min(max(z(x, l, S), TA), TB), TB) / gauss_mass(
                         TA, TB), (X, LOC)),
    "truncnorm.logcdf": (ls(lambda x, l, s: stats.truncnorm.logcdf(x, TA, TB, l, s)),
                         lambda x, l: math.log(gauss_mass(TA, min(z(x, l, S), TB)) / gauss_mass(
                             TA, TB)), (X[2:] * 0.3, LOC[2:])),
    "truncnorm.logsf": (ls(lambda x, l, s: stats.truncnorm.logsf(x, TA, TB, l, s)),
                        lambda x, l: math.log(gauss_mass(max(z(x, l, S), TA), TB) / gauss_mass(
                            TA, TB)), (X[:3] * 0.5, LOC[:3])),
    # the far right tail, where Phi(b) - Phi(a) is below float64's epsilon
    "truncnorm tail": (lambda x, a: stats.truncnorm.logpdf(x, a, a + 1.0),
                       lambda x, a: -x * x / 2 - 0.5 * math.log(2 * math.pi) - math.log(
                           gauss_mass(a, a + 1)), (np.array([9.2, 12.5, 20.1]),
                                                   np.array([9.0, 12.0, 20.0]))),
}

N = np.array([3.0, 2.0, 5.0, 4.0, 6.0, 5.0])


def log_choose(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


DISCRETE = {
    "geom.logpmf": (stats.geom.logpmf, lambda k, p: (k - 1) * math.log1p(-p) + math.log(p)
                    if k >= 1 else -math.inf, (K, P)),
    "geom.pmf": (stats.geom.pmf, lambda k, p: (1 - p) ** (k - 1) * p if k >= 1 else 0.0, (K, P)),
    "binom.logpmf": (lambda k, p: stats.binom.logpmf(k, N, p), lambda k, p: (
        log_choose(N[list(K).index(k)], k) + k * math.log(p)
        + (N[list(K).index(k)] - k) * math.log1p(-p)) if 0 <= k <= N[list(K).index(k)]
        else -math.inf, (K, P)),
    "binom.pmf": (lambda k: stats.binom.pmf(k, 4, 0.3), lambda k: math.comb(4, int(k))
                  * 0.3 ** k * 0.7 ** (4 - k), (np.array([0.0, 1.0, 2.0, 3.0, 4.0, 2.0]),)),
    "nbinom.logpmf": (lambda k, p: stats.nbinom.logpmf(k, 2.5, p), lambda k, p: (
        math.lgamma(k + 2.5) - math.lgamma(2.5) - math.lgamma(k + 1) + 2.5 * math.log(p)
        + k * math.log1p(-p)) if k >= 0 else -math.inf, (K, P)),
    "nbinom.pmf": (lambda k: stats.nbinom.pmf(k, 3, 0.4), lambda k: math.comb(int(k) + 2, 2)
                   * 0.4 ** 3 * 0.6 ** k, (np.array([0.0, 1.0, 2.0, 3.0, 5.0, 8.0]),)),
    "betabinom.logpmf": (lambda k, a: stats.betabinom.logpmf(k, 6, a, 2.0), lambda k, a: (
        log_choose(6, math.floor(k)) + log_beta(math.floor(k) + a, 6 - math.floor(k) + 2)
        - log_beta(a, 2)) if 0 <= k <= 6 else -math.inf, (K, MU)),
    "betabinom.pmf": (lambda k: stats.betabinom.pmf(k, 4, 1.0, 1.0), lambda k: 0.2,  # uniform
                      (np.array([0.0, 1.0, 2.0, 3.0, 4.0, 2.0]),)),
}
ALL = {**CASES, **DISCRETE}


@pytest.mark.parametrize("name", ALL)
def test_float64_against_closed_forms(name, x64):
    fn, oracle, args = ALL[name]
    rtol = 1e-8 if "tail" in name else 1e-10  # log Phi's series far out: 2e-11 of log mass
    assert_close(fn(*args), vec(oracle)(*args), rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("family", sorted({n.split(".")[0] for n in CASES if "." in n}))
def test_float32_and_integer_inputs(family):
    name = next(n for n in CASES if n.startswith(family + ".") and "log" in n)
    fn, oracle, args = CASES[name]
    args32 = tuple(a.astype(np.float32) for a in args)
    out = fn(*args32)
    assert out.dtype == np.float32
    assert_close(out, vec(oracle)(*(a.astype(np.float64) for a in args32)).astype(np.float32),
                 rtol=2e-5, atol=2e-5)


GRADIENTS = ["expon.logpdf", "expon.cdf", "chi2.logpdf", "chi2.cdf", "pareto.logpdf",
             "gumbel_r.logpdf", "gumbel_l.logcdf", "gennorm.logpdf", "vonmises.logpdf",
             "wrapcauchy.logpdf", "truncnorm.logpdf", "truncnorm.cdf", "nbinom.logpmf"]


@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients(name, x64):
    fn, _, (x, param) = ALL[name]
    inside = {"expon": np.array([0.9, 1.1, 1.4, 2.0, 2.2, 1.8]), "truncnorm": X * 0.3,
              "pareto": np.array([0.0, 0.5, 1.0, 2.0, 3.0, 4.0]), "wrapcauchy": UNIT * 6}
    x = inside.get(name.split(".")[0], x)  # away from the support's edges
    if name == "chi2.cdf":  # in x only: the incomplete gamma's derivative in df is a series
        df = param
        check_grads(lambda x: fn(x, df), (x,), order=1, rtol=1e-4, atol=1e-6)
        return
    if name == "nbinom.logpmf":  # in p only: k counts
        x = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 8.0])
        check_grads(lambda p: fn(x, p), (param,), order=1, rtol=1e-4, atol=1e-6)
        return
    check_grads(fn, (x, param), order=1, rtol=1e-4, atol=1e-6)


def test_multinomial_against_factorials(x64):
    x = np.array([[2, 0, 1], [1, 1, 1], [0, 3, 1]])
    p = np.array([0.2, 0.5, 0.3])
    expected = [math.factorial(3) / math.prod(math.factorial(c) for c in row)
                * math.prod(q ** c for q, c in zip(p, row)) for row in x[:2]] + [0.0]
    assert_close(stats.multinomial.pmf(x, 3, p), np.array(expected), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="x and n must be of integer type"):
        stats.multinomial.logpmf(x.astype(np.float32), 3, p)


def test_dirichlet_against_the_closed_form_with_and_without_the_last_component(x64):
    alpha = np.array([1.5, 2.0, 3.5])
    x = np.array([[0.2, 0.5], [0.3, 0.1], [0.5, 0.4]])  # components on the first axis
    norm = sum(math.lgamma(a) for a in alpha) - math.lgamma(alpha.sum())
    expected = [sum((a - 1) * math.log(v) for a, v in zip(alpha, col)) - norm for col in x.T]
    assert_close(stats.dirichlet.logpdf(x, alpha), np.array(expected), rtol=1e-12)
    assert_close(stats.dirichlet.pdf(x[:2], alpha), np.exp(expected), rtol=1e-12)
    off = np.asarray(stats.dirichlet.logpdf(np.array([0.5, 0.6, -0.1]), alpha))
    assert off == -np.inf  # not on the simplex
    with pytest.raises(ValueError, match="`alpha` must be one-dimensional"):
        stats.dirichlet.logpdf(x, alpha[None])
    with pytest.raises(ValueError, match="`x` must have either the same number of entries as "
                                         "`alpha` or one entry fewer"):
        stats.dirichlet.logpdf(np.ones((5, 2)), alpha)


def test_invalid_parameters_give_nan():
    assert np.isnan(np.asarray(stats.gumbel_r.logpdf(0.5, 0.0, -1.0)))
    assert np.isnan(np.asarray(stats.gumbel_l.ppf(np.array([0.0, 1.0])))).all()
    assert np.isnan(np.asarray(stats.vonmises.logpdf(0.5, 0.0)))
    assert np.isnan(np.asarray(stats.wrapcauchy.logpdf(0.5, 1.0)))
    assert np.isnan(np.asarray(stats.truncnorm.logpdf(0.5, 1.0, 1.0)))
    assert np.isnan(np.asarray(stats.betabinom.logpmf(1.0, 2.0, -1.0, 1.0)))
    assert np.isnan(np.asarray(stats.expon.ppf(np.array([-0.1, 1.1])))).all()
    assert np.isnan(np.asarray(stats.pareto.ppf(np.array([-0.1, 1.1]), 2.0))).all()


def numpy_ranks(row, method):
    """SciPy's rankdata for one row, from its definition: ties share min/max/average ranks."""
    order = np.argsort(row, kind="stable")
    ordinal = np.empty(row.size)
    ordinal[order] = np.arange(1, row.size + 1)
    low = np.array([1 + np.sum(row < v) for v in row], float)
    high = np.array([np.sum(row <= v) for v in row], float)
    dense = np.array([np.unique(row[row <= v]).size for v in row], float)
    return {"ordinal": ordinal, "min": low, "max": high, "dense": dense,
            "average": (low + high) / 2}[method]


SAMPLE = np.array([[3, 1, 3, 2, 2, 5], [2, 2, 1, 1, 4, 4], [7, 1, 1, 2, 7, 7]], np.float32)


@pytest.mark.parametrize("method", ["average", "min", "max", "dense", "ordinal"])
def test_rankdata_against_the_definition(method):
    assert_close(stats.rankdata(SAMPLE, method),
                 numpy_ranks(SAMPLE.ravel(), method).reshape(-1).astype(np.float32))
    per_row = np.stack([numpy_ranks(r, method) for r in SAMPLE]).astype(np.float32)
    assert_close(stats.rankdata(SAMPLE, method, axis=1), per_row)


def test_rankdata_nan_and_errors():
    assert np.isnan(np.asarray(stats.rankdata(np.array([1.0, np.nan, 2.0])))).all()
    assert_close(stats.rankdata(np.array([3, 1, 2])), np.array([3.0, 1.0, 2.0], np.float32))
    with pytest.raises(ValueError, match="unknown method 'median'"):
        stats.rankdata(SAMPLE, "median")
    with pytest.raises(ValueError, match="Illegal nan_policy value 'skip'"):
        stats.rankdata(SAMPLE, nan_policy="skip")
    with pytest.raises(NotImplementedError, match="nan_policy` of omit is not implemented"):
        stats.mode(SAMPLE, nan_policy="omit")


def test_mode_takes_the_smallest_of_the_most_frequent():
    def numpy_mode(column):
        values, counts = np.unique(column, return_counts=True)
        return values[np.argmax(counts)], counts.max()
    for axis in (0, 1):
        expected = np.array([numpy_mode(c) for c in np.moveaxis(SAMPLE, axis, 0).T])
        out = stats.mode(SAMPLE, axis=axis)
        assert_close(out.mode, expected[:, 0].astype(np.float32))
        np.testing.assert_array_equal(np.asarray(out.count), expected[:, 1])
    everything = stats.mode(SAMPLE, axis=None, keepdims=True)
    assert everything.mode.shape == (1, 1) and float(everything.mode[0, 0]) == 1.0
    assert int(everything.count[0, 0]) == np.sum(SAMPLE == 1)
    ties = stats.mode(np.array([5, 2, 2, 5, 9]))  # 2 and 5 twice each: the smallest wins
    assert int(ties.mode) == 2 and int(ties.count) == 2


def test_sem_is_std_over_root_n():
    for axis in (0, 1, None):
        n = SAMPLE.size if axis is None else SAMPLE.shape[axis]
        assert_close(stats.sem(SAMPLE, axis=axis), (np.std(SAMPLE, axis=axis, ddof=1)
                                                     / np.sqrt(n)).astype(np.float32))
    with_nan = np.array([1.0, 2.0, np.nan, 4.0], np.float32)
    assert_close(stats.sem(with_nan, nan_policy="omit"),
                 np.float32(np.std([1, 2, 4], ddof=1) / np.sqrt(3)))


def gaussian_density(x, mean, cov):
    diff = x - mean
    return math.exp(-0.5 * diff @ np.linalg.solve(cov, diff)) / math.sqrt(
        np.linalg.det(2 * math.pi * cov))


KDE_DATA = np.array([[0.0, 1.0, 1.5, 3.0, 4.2, -1.0], [1.0, 0.2, -0.5, 2.0, 1.0, 0.3]])
KDE_WEIGHTS = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0])


@pytest.mark.parametrize("bw_method", ["scott", "silverman", 0.7])
def test_gaussian_kde_against_the_sum_of_gaussians(bw_method, x64):
    w = KDE_WEIGHTS / KDE_WEIGHTS.sum()
    neff = 1 / np.sum(w ** 2)
    factor = {"scott": neff ** (-1 / 6), "silverman": (neff * 4 / 4) ** (-1 / 6)}.get(
        bw_method, bw_method)
    cov = np.cov(KDE_DATA, aweights=w) * factor ** 2
    kde = stats.gaussian_kde(KDE_DATA, bw_method, weights=KDE_WEIGHTS)
    assert_close(kde.covariance, cov, rtol=1e-12)
    points = np.array([[0.5, 2.0, -3.0], [0.0, 1.0, 4.0]])
    expected = np.array([sum(wi * gaussian_density(p, xi, cov) for wi, xi in zip(w, KDE_DATA.T))
                         for p in points.T])
    assert_close(kde(points), expected, rtol=1e-10)
    assert_close(kde.logpdf(points), np.log(expected), rtol=1e-10)
    mean, c = np.array([0.3, -0.2]), np.array([[1.0, 0.2], [0.2, 0.5]])
    assert_close(kde.integrate_gaussian(mean, c), sum(
        wi * gaussian_density(mean, xi, cov + c) for wi, xi in zip(w, KDE_DATA.T)), rtol=1e-10)
    assert_close(kde.integrate_kde(kde), sum(
        wi * wj * gaussian_density(xi, xj, 2 * cov) for wi, xi in zip(w, KDE_DATA.T)
        for wj, xj in zip(w, KDE_DATA.T)), rtol=1e-10)


def test_gaussian_kde_in_one_dimension_pytree_and_resample():
    data = KDE_DATA[0].astype(np.float32)
    kde = stats.gaussian_kde(data)
    sigma = math.sqrt(np.var(data, ddof=1)) * len(data) ** (-1 / 5)  # Scott's rule
    mass = np.mean([0.5 * (math.erf((2 - x) / sigma / math.sqrt(2))
                           - math.erf((-1 - x) / sigma / math.sqrt(2))) for x in data])
    assert_close(kde.integrate_box_1d(-1.0, 2.0), np.float32(mass), rtol=1e-5)
    assert_close(spmd.jit(lambda k, x: k.pdf(x))(kde, np.array([0.5], np.float32)),
                 kde.pdf(np.array([0.5], np.float32)))
    narrow = stats.gaussian_kde(data, bw_method=1e-6)
    draws = np.asarray(narrow.resample(spmd.random.key(0), (40,)))
    assert draws.shape == (1, 40)
    assert np.abs(draws[0][:, None] - data[None, :]).min(axis=1).max() < 1e-3  # data points
    with pytest.raises(ValueError, match="`bw_method` should be 'scott', 'silverman'"):
        stats.gaussian_kde(data, bw_method="wide")
    with pytest.raises(ValueError, match="points have dimension 3, dataset has dimension 1"):
        kde(np.ones((3, 2)))
    with pytest.raises(ValueError, match="integrate_box_1d\\(\\) only handles 1D pdfs"):
        stats.gaussian_kde(KDE_DATA).integrate_box_1d(0.0, 1.0)
