"""Every sampler draws from the distribution it names: Kolmogorov-Smirnov against scipy.stats
for continuous ones, chi-square against the probability mass function for discrete ones, and
the sample mean within five standard errors of the true mean. Keys are fixed, so each check is
deterministic; the thresholds are those a correct sampler passes with probability > 99%."""
import numpy as np
import pytest
import scipy.stats

import spmd
from spmd import random
from spmd.transforms import dtypes

N = 10_000
KEY = random.PRNGKey(0)


def _ks(samples, cdf):
    assert scipy.stats.kstest(np.asarray(samples, np.float64), cdf).pvalue > 0.01


def _mean(samples, mean, std):
    samples = np.asarray(samples, np.float64)
    assert abs(samples.mean() - mean) < 5 * std / np.sqrt(samples.size)


def _chi2(samples, pmf):
    samples = np.asarray(samples).astype(np.int64).ravel()
    values = np.arange(samples.max() + 1)
    expected = pmf(values) * samples.size
    observed = np.bincount(samples, minlength=len(values))
    keep = expected > 0
    assert observed[~keep].sum() == 0, "drew a value of probability zero"
    assert scipy.stats.chisquare(observed[keep], expected[keep]).pvalue > 0.01


truncnorm = scipy.stats.truncnorm
CONTINUOUS = [  # (id, draw(key), scipy distribution)
    ("uniform-f32", lambda k: random.uniform(k, (N,)), scipy.stats.uniform()),
    ("uniform-range", lambda k: random.uniform(k, (N,), minval=-2.0, maxval=3.0),
     scipy.stats.uniform(-2, 5)),
    ("uniform-f16", lambda k: random.uniform(k, (N,), np.float16), scipy.stats.uniform()),
    ("uniform-bf16", lambda k: random.uniform(k, (N,), dtypes.bfloat16), scipy.stats.uniform()),
    ("normal-f32", lambda k: random.normal(k, (N,)), scipy.stats.norm()),
    ("normal-f16", lambda k: random.normal(k, (N,), np.float16), scipy.stats.norm()),
    ("normal-complex-re", lambda k: random.normal(k, (N,), np.complex64).real,
     scipy.stats.norm(scale=1 / np.sqrt(2))),
    ("normal-complex-im", lambda k: random.normal(k, (N,), np.complex64).imag,
     scipy.stats.norm(scale=1 / np.sqrt(2))),
    ("truncated-normal", lambda k: random.truncated_normal(k, -0.3, 0.3, (N,)),
     truncnorm(-0.3, 0.3)),
    ("truncated-normal-tail", lambda k: random.truncated_normal(k, 1.0, 3.0, (N,)),
     truncnorm(1.0, 3.0)),
    ("exponential", lambda k: random.exponential(k, (N,)), scipy.stats.expon()),
    ("gumbel", lambda k: random.gumbel(k, (N,)), scipy.stats.gumbel_r()),
    ("gumbel-high", lambda k: random.gumbel(k, (N,), mode="high"), scipy.stats.gumbel_r()),
    ("bits-u32", lambda k: np.asarray(random.bits(k, (N,))).astype(np.float64) / 2 ** 32,
     scipy.stats.uniform()),
]


@pytest.mark.parametrize("draw,dist", [c[1:] for c in CONTINUOUS], ids=[c[0] for c in CONTINUOUS])
def test_continuous(draw, dist):
    samples = np.asarray(draw(KEY))
    assert samples.shape == (N,) and np.isfinite(samples).all()
    _ks(samples, dist.cdf)
    _mean(samples, dist.mean(), dist.std())


def test_truncated_normal_stays_inside_bounds():
    samples = np.asarray(random.truncated_normal(KEY, -0.3, 0.3, (N,)))
    assert samples.min() > -0.3 and samples.max() < 0.3
    # bounds broadcast against shape: one row per interval
    rows = np.asarray(random.truncated_normal(KEY, np.array([[0.], [2.]]), np.array([[1.], [3.]]),
                                              (2, 500)))
    assert (rows[0] > 0).all() and (rows[0] < 1).all() and (rows[1] > 2).all()


P_CATEGORIES = np.array([0.1, 0.2, 0.3, 0.4])
DISCRETE = [  # (id, draw(key), pmf over 0, 1, 2, ...)
    ("bernoulli-0.3", lambda k: random.bernoulli(k, 0.3, (N,)),
     lambda v: np.where(v == 1, 0.3, 0.7)),
    ("randint-5-10", lambda k: random.randint(k, (N,), 5, 10),
     lambda v: np.where((v >= 5) & (v < 10), 0.2, 0.0)),
    ("randint-uint8-full", lambda k: random.randint(k, (N * 5,), 0, 256, np.uint8),
     lambda v: np.full(v.shape, 1 / 256)),
    ("randint-int8-negative", lambda k: random.randint(k, (N,), -3, 2, np.int8) + 3,
     lambda v: np.where(v < 5, 0.2, 0.0)),
    ("bits-u8", lambda k: random.bits(k, (N * 5,), np.uint8), lambda v: np.full(v.shape, 1 / 256)),
    ("categorical", lambda k: random.categorical(k, np.log(P_CATEGORIES), shape=(N,)),
     lambda v: P_CATEGORIES[v]),
    ("categorical-unnormalized", lambda k: random.categorical(
        k, np.log(P_CATEGORIES) - 42, shape=(N,)), lambda v: P_CATEGORIES[v]),
    ("choice-p", lambda k: random.choice(k, 4, (N,), p=P_CATEGORIES), lambda v: P_CATEGORIES[v]),
    ("choice-uniform", lambda k: random.choice(k, 6, (N,)), lambda v: np.full(v.shape, 1 / 6)),
    ("permutation-first", lambda k: spmd.vmap(lambda kk: random.permutation(kk, 8)[0])(
        random.split(k, 4000)), lambda v: np.full(v.shape, 1 / 8)),
    ("choice-no-replace-first", lambda k: spmd.vmap(
        lambda kk: random.choice(kk, 6, (3,), replace=False)[2])(random.split(k, 3000)),
     lambda v: np.full(v.shape, 1 / 6)),
]


@pytest.mark.parametrize("draw,pmf", [c[1:] for c in DISCRETE], ids=[c[0] for c in DISCRETE])
def test_discrete(draw, pmf):
    samples = np.asarray(draw(KEY))
    _chi2(samples, pmf)
    values = np.arange(samples.astype(np.int64).max() + 1)
    probabilities = pmf(values)
    mean = float((values * probabilities).sum())
    std = float(np.sqrt(((values - mean) ** 2 * probabilities).sum()))
    _mean(samples, mean, std)


def test_categorical_along_an_axis():
    probs = np.array([[0.5, 0.1], [0.5, 0.9]])  # categories along axis 0, two distributions
    samples = np.asarray(random.categorical(KEY, np.log(probs), axis=0, shape=(N, 2)))
    assert samples.shape == (N, 2)
    for column in range(2):
        _chi2(samples[:, column], lambda v, column=column: probs[v, column])


def test_samples_without_replacement_are_distinct():
    perm = np.asarray(random.permutation(KEY, 100))
    np.testing.assert_array_equal(np.sort(perm), np.arange(100))
    assert not np.array_equal(perm, np.arange(100))
    rows = np.arange(30.).reshape(10, 3)
    shuffled = np.asarray(random.permutation(KEY, rows))
    np.testing.assert_array_equal(np.sort(shuffled, axis=0), rows)  # rows move whole
    independent = np.asarray(random.permutation(KEY, rows, axis=1, independent=True))
    np.testing.assert_array_equal(np.sort(independent, axis=1), rows)
    for p in (None, np.arange(1, 11) / 55):
        drawn = np.asarray(random.choice(KEY, np.arange(10) * 7, (2, 3), replace=False, p=p))
        assert drawn.shape == (2, 3) and len(np.unique(drawn)) == 6 and (drawn % 7 == 0).all()
    cats = np.asarray(random.categorical(KEY, np.log(P_CATEGORIES), shape=(3,), replace=False))
    assert len(np.unique(cats)) == 3


def test_weighted_sampling_without_replacement_favours_heavy_items():
    p = np.array([0.7, 0.1, 0.1, 0.1])
    firsts = np.asarray(spmd.vmap(lambda k: random.choice(k, 4, (2,), replace=False, p=p)[0])(
        random.split(KEY, 4000)))
    _chi2(firsts, lambda v: p[v])  # the first draw of a weighted sample follows p
