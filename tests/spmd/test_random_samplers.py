"""The samplers under the transforms: jit equals eager, vmap over a batch of keys equals the
loop, pmap with one key per device equals the loop, random values carry no tangent under grad
while their parameters do (finite differences), split keys give uncorrelated streams; and the
errors a user can make, with their messages."""
import numpy as np
import pytest

import spmd
from oracles import check_grads, check_mapped
from spmd import random
from spmd.random import impls
from spmd.transforms import lax
from spmd.transforms.core import ConcretizationError

KEY = random.PRNGKey(7)
KEYS = np.asarray(random.split(KEY, 4))
LOGITS = np.log(np.array([0.2, 0.3, 0.5], np.float32))

SAMPLERS = [  # (id, f(key)); one shape (3,) so that the compiled cores are shared
    ("bits", lambda k: random.bits(k, (3,))),
    ("uniform", lambda k: random.uniform(k, (3,), minval=-1.0, maxval=np.array([1., 2., 3.]))),
    ("normal", lambda k: random.normal(k, (3,))),
    ("normal-complex", lambda k: random.normal(k, (3,), np.complex64)),
    ("truncated_normal", lambda k: random.truncated_normal(k, -1.0, 0.5, (3,))),
    ("bernoulli", lambda k: random.bernoulli(k, np.array([0.1, 0.5, 0.9], np.float32))),
    ("randint", lambda k: random.randint(k, (3,), -5, np.array([0, 5, 50]))),
    ("exponential", lambda k: random.exponential(k, (3,))),
    ("gumbel", lambda k: random.gumbel(k, (3,))),
    ("categorical", lambda k: random.categorical(k, LOGITS, shape=(3,))),
    ("permutation", lambda k: random.permutation(k, 3)),
    ("permutation-rows", lambda k: random.permutation(k, np.arange(6.).reshape(3, 2))),
    ("choice", lambda k: random.choice(k, 5, (3,))),
    ("choice-no-replace", lambda k: random.choice(k, np.arange(5) * 2, (3,), replace=False)),
    ("choice-p", lambda k: random.choice(k, 3, (3,), p=np.array([0.2, 0.3, 0.5]))),
    ("split", lambda k: random.split(k, 3)),
    ("fold_in", lambda k: random.fold_in(k, 3)),
]
IDS = [s[0] for s in SAMPLERS]
FUNS = [s[1] for s in SAMPLERS]


@pytest.mark.parametrize("f", FUNS, ids=IDS)
def test_jit_equals_eager(f):
    eager, compiled = np.asarray(f(KEY)), np.asarray(spmd.jit(f)(KEY))
    assert eager.dtype == compiled.dtype
    np.testing.assert_array_equal(compiled, eager)


@pytest.mark.parametrize("f", FUNS, ids=IDS)
def test_vmap_over_keys_equals_loop(f):
    check_mapped(spmd.vmap(f), f, (KEYS,), rtol=0, atol=0)


def test_vmap_over_typed_keys_and_batched_parameters():
    keys = random.split(random.key(3), 4)
    f = lambda k: random.normal(k, (3,))  # noqa: E731
    loop = np.stack([np.asarray(f(k)) for k in keys])
    np.testing.assert_array_equal(np.asarray(spmd.vmap(f)(keys)), loop)
    lows = np.array([-2., -1., 0., 1.], np.float32)
    g = lambda k, lo: random.truncated_normal(k, lo, lo + 1.0, (3,))  # noqa: E731
    check_mapped(spmd.vmap(g, in_axes=(None, 0)), g, (KEYS[0], lows), in_axes=(None, 0),
                 rtol=0, atol=0)
    h = lambda lo: random.randint(KEY, (3,), lo, 100)  # noqa: E731
    check_mapped(spmd.vmap(h), h, (np.array([0, 10, 90]),), rtol=0, atol=0)


@pytest.mark.skipif(not hasattr(spmd, "pmap"), reason="spmd.pmap has not landed yet")
def test_pmap_one_key_per_device_equals_loop():
    keys = np.asarray(random.split(KEY, 8))
    f = lambda k: random.normal(k, (3,))  # noqa: E731
    check_mapped(spmd.pmap(f), f, (keys,), rtol=0, atol=0)


def test_random_values_carry_no_tangent():
    normals = np.asarray(random.normal(KEY, (3,)))
    grad = spmd.grad(lambda x: lax.reduce_sum(x * random.normal(KEY, (3,))))(2.0)
    np.testing.assert_allclose(float(grad), normals.sum(), rtol=1e-6)
    _, tangent = spmd.jvp(lambda x: x + random.uniform(KEY, (3,)), (np.zeros(3, np.float32),),
                          (np.ones(3, np.float32),))
    np.testing.assert_array_equal(np.asarray(tangent), np.ones(3))


@pytest.mark.parametrize("f,args,order", [
    (lambda lo, hi: random.uniform(KEY, (3,), np.float64, lo, hi),
     (np.float64(-1.0), np.array([1.0, 2.0, 3.0])), 1),
    (lambda lo, hi: random.truncated_normal(KEY, lo, hi, (3,), np.float64),
     (np.float64(-0.5), np.array([0.5, 1.0, 2.0])), 1),
])
def test_gradients_with_respect_to_parameters(f, args, order, x64):
    check_grads(f, args, order=order)


def test_split_keys_give_uncorrelated_streams():
    n = 4000
    consecutive_seeds = np.stack([np.asarray(random.PRNGKey(s)) for s in range(16)])
    for keys in (random.split(KEY, 16), consecutive_seeds):
        draws = np.asarray(spmd.vmap(lambda k: random.uniform(k, (n,)))(keys))
        corr = np.corrcoef(draws)
        off_diagonal = np.abs(corr[~np.eye(16, dtype=bool)])
        assert off_diagonal.max() < 5 / np.sqrt(n)


ERRORS = [
    (lambda: random.normal(KEY, (3,), np.int32), ValueError,
     "dtype argument to `normal` must be a float or complex dtype, got int32"),
    (lambda: random.uniform(KEY, (3,), np.int32), ValueError,
     "dtype argument to `uniform` must be a float dtype, got int32"),
    (lambda: random.randint(KEY, (3,), 0, 5, np.float32), TypeError,
     "randint only accepts integer dtypes, got float32"),
    (lambda: random.bits(KEY, (3,), np.int8), ValueError, "must be an unsigned int dtype"),
    (lambda: random.uniform(KEY, (3,), minval=np.zeros(4)), ValueError,
     r"uniform parameter shapes must be broadcast-compatible with shape argument.*\(3,\)"),
    (lambda: random.randint(KEY, (2,), np.zeros(3, np.int32), 5), ValueError,
     "randint parameter shapes must be broadcast-compatible"),
    (lambda: random.truncated_normal(KEY, np.zeros(3), 1.0, (2,)), ValueError,
     "truncated_normal parameter shapes must be broadcast-compatible"),
    (lambda: random.bernoulli(KEY, np.full(2, 0.5), (3,)), ValueError,
     "bernoulli parameter shapes must be broadcast-compatible"),
    (lambda: random.bernoulli(KEY, 1), TypeError, "`p` must have a floating dtype, got int32"),
    (lambda: random.normal(KEY, 3), TypeError, r"shape must be a sequence.*write \(3,\)"),
    (lambda: random.categorical(KEY, LOGITS, axis=2), ValueError, "axis 2 is out of bounds"),
    (lambda: random.categorical(KEY, LOGITS, shape=(4,), replace=False), ValueError,
     r"without replacement \(4\) cannot exceed number of categories \(3\)"),
    (lambda: random.choice(KEY, 3, (5,), replace=False), ValueError,
     r"Cannot take a larger sample \(size 5\) than population \(size 3\)"),
    (lambda: random.choice(KEY, 3, (2,), p=np.array([0.5, 0.5])), ValueError,
     "p must be None or a 1D vector"),
    (lambda: random.choice(KEY, 3, 5), TypeError, "shape argument of spmd.random.choice must be"),
    (lambda: random.permutation(KEY, 10.0), TypeError,
     "x must be an integer or at least 1-dimensional"),
    (lambda: spmd.jit(random.permutation)(KEY, 10), ConcretizationError, "needs a concrete value"),
    (lambda: random.gumbel(KEY, (3,), mode="medium"), ValueError, "mode must be one of"),
    (lambda: random.categorical(KEY, LOGITS, mode="medium"), ValueError, "mode must be one of"),
    (lambda: random.categorical(KEY, np.arange(3)), ValueError,
     "logits must have a float dtype, got int32"),
    (lambda: random.bits(KEY, (65536, 65537)), NotImplementedError, "at most 4294967295"),
    (lambda: impls.random_bits(KEY, 64, (3,), impls.layout(impls.resolve())), TypeError,
     "64-bit random values need"),
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_sampler_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
