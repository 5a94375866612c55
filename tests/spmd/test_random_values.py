"""The same numbers as JAX: samplers' outputs for fixed keys, recorded from JAX itself, in both
of JAX's bit layouts. Sources:
  [doc]  docs.jax.dev jax.random module page (partitionable layout, JAX's default since 0.5):
         uniform(key(0)) = 0.947667 and, after `key, sub = split(key)`, uniform(sub) = 0.00729382;
         an older build of the same page (original layout): 0.41845703 and 0.10536897.
  [out]  printed outputs of recent JAX (partitionable) quoted in public tutorials/tests:
         normal(key(0), (4, 4)), uniform(key(0), (3,)), randint(key(1), (5,), 0, 10).
  [test] jax tests/random_test.py (original layout): testRngRandomBits (PRNGKey(1701)),
         testPRNGValues (randint, PRNGKey(0)), and _RANDOM_VALUES_CASES, whose seed is
         zlib.adler32((name + "threefry2x32").encode()).
  [tut]  JAX's pseudorandom-numbers tutorial (original layout): three split-then-normal draws
         from PRNGKey(12).
"""
import contextlib
import zlib

import numpy as np
import pytest

import spmd
from spmd import random


@contextlib.contextmanager
def settings(**values):
    old = {name: getattr(spmd.config, name) for name in values}
    for name, value in values.items():
        spmd.config.update(name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            spmd.config.update(name, value)


def case_seed(name):
    return zlib.adler32((name + "threefry2x32").encode())


def after_split(sampler):
    def draw(key):
        _, sub = random.split(key)
        return sampler(sub)
    return draw


def tutorial_draws(key):
    draws = []
    for _ in range(3):
        key, sub = random.split(key)
        draws.append(random.normal(sub))
    return np.array([float(d) for d in draws])


def value_case(name, **params):
    return lambda key: getattr(random, name)(key, shape=(5,), **params)


# (id, partitionable, make key, sampler, expected)
VALUES = [
    ("doc-uniform", True, lambda: random.key(0), random.uniform, 0.947667),
    ("doc-uniform-split", True, lambda: random.key(0), after_split(random.uniform), 0.00729382),
    ("out-normal-4x4", True, lambda: random.key(0), lambda k: random.normal(k, (4, 4)), [
        [1.6226422, 2.0252647, -0.43359444, -0.07861735],
        [0.1760909, -0.97208923, -0.49529874, 0.4943786],
        [0.6643493, -0.9501635, 2.1795304, -1.9551506],
        [0.35857072, 0.15779513, 1.2770847, 1.5104648]]),
    ("out-uniform-3", True, lambda: random.key(0), lambda k: random.uniform(k, (3,)),
     [0.947667, 0.9785799, 0.33229148]),
    ("out-randint", True, lambda: random.key(1), lambda k: random.randint(k, (5,), 0, 10),
     np.array([6, 7, 0, 3, 8], np.int32)),
    ("doc-uniform-original", False, lambda: random.key(0), random.uniform, 0.41845703),
    ("doc-uniform-split-original", False, lambda: random.key(0), after_split(random.uniform),
     0.10536897),
    ("tut-normal-draws", False, lambda: random.PRNGKey(12), tutorial_draws,
     [0.735927939414978, 1.810187578201294, 0.11553369462490082]),
    ("test-bits8", False, lambda: random.PRNGKey(1701), lambda k: random.bits(k, (3,), np.uint8),
     np.array([216, 115, 43], np.uint8)),
    ("test-bits16", False, lambda: random.PRNGKey(1701),
     lambda k: random.bits(k, (3,), np.uint16), np.array([41682, 1300, 55017], np.uint16)),
    ("test-bits32", False, lambda: random.PRNGKey(1701),
     lambda k: random.bits(k, (3,), np.uint32),
     np.array([56197195, 4200222568, 961309823], np.uint32)),
    ("test-randint-3x3", False, lambda: random.PRNGKey(0),
     lambda k: random.randint(k, (3, 3), 0, 8, np.int32),
     np.array([[2, 1, 3], [6, 1, 5], [6, 3, 4]], np.int32)),
] + [
    (f"test-{name}", False, lambda name=name: random.key(case_seed(name)),
     value_case(name, **params), expected)
    for name, params, expected in [
        ("bernoulli", {"p": 0.5}, np.array([False, True, True, True, False])),
        ("exponential", {}, [0.526067, 0.043046, 0.039932, 0.46427, 0.123886]),
        ("gumbel", {}, [2.06701, 0.911726, 0.145736, 0.185427, -0.00711]),
        ("normal", {}, [-1.173234, -1.511662, 0.070593, -0.099764, 1.052845]),
        ("randint", {"minval": 0, "maxval": 10}, np.array([0, 5, 7, 7, 5], np.int32)),
        ("truncated_normal", {"lower": 0, "upper": 2},
         [0.582807, 1.709771, 0.159513, 0.861376, 0.36148]),
        ("uniform", {}, [0.298671, 0.073213, 0.873356, 0.260549, 0.412797]),
    ]
] + [
    ("test-bits-dtypes", False, lambda: random.key(case_seed("bits")),
     lambda k: [random.bits(k, (5,), d) for d in (np.uint8, np.uint16, np.uint32)],
     [np.array([10, 158, 82, 54, 158], np.uint8),
      np.array([6738, 38161, 50695, 57337, 61600], np.uint16),
      np.array([1978747883, 4134381225, 3628107870, 689687174, 2788938207], np.uint32)]),
]


def _assert_matches(out, expected):
    out, expected = np.asarray(out), np.asarray(expected)
    assert out.shape == expected.shape
    if np.issubdtype(expected.dtype, np.floating):
        # the recorded values are printed to 6-8 significant digits
        np.testing.assert_allclose(out, expected, rtol=2e-6, atol=2e-6)
    else:
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("partitionable,make_key,sampler,expected",
                         [v[1:] for v in VALUES], ids=[v[0] for v in VALUES])
def test_same_numbers_as_jax(partitionable, make_key, sampler, expected):
    with settings(threefry_partitionable=partitionable):
        out = sampler(make_key())
        if isinstance(out, list):
            for o, e in zip(out, expected):
                _assert_matches(o, e)
        else:
            _assert_matches(out, expected)


def test_64_bit_values_under_x64():
    """testRngRandomBits' 64-bit words, and the uint64 `bits` case of _RANDOM_VALUES_CASES."""
    with settings(threefry_partitionable=False, enable_x64=True):
        _assert_matches(random.bits(random.PRNGKey(1701), (3,), np.uint64), np.array(
            [3982329540505020460, 16822122385914693683, 7882654074788531506], np.uint64))
        _assert_matches(random.bits(random.key(case_seed("bits")), (5,), np.uint64), np.array(
            [17649965731882839947, 1415307058040849897, 8282622628079774249,
             14024425113645909402, 2012979996110532418], np.uint64))
