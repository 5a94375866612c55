"""Gamma samples (spmd.random.gamma and loggamma) by Marsaglia and Tsang's rejection method with
JAX's exact loop and key usage, so the same key gives JAX's numbers; and their gradient in `a`
by implicit reparameterization (spmd/transforms/lax/random_gamma_grad.py).

As in JAX this is one primitive, random_gamma(key, a): the key splits into one key per element
of `a`, and each element runs its own rejection loop. Its JVP is tangent * dsample/da; its
batching rule moves the batch axes to the front and binds again, so a batch of keys splits each
key over the rest of `a` (JAX's rule)."""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from spmd.numpy._core import broadcast_to
from spmd.random import impls
from spmd.transforms.lax.random_gamma_grad import random_gamma_grad
from spmd.random.keys import check_key
from spmd.random.samplers import (_dtype_of_kind, _exponential, _normal_real, _uniform,
                                  canonical_shape, check_shape)
from spmd.transforms import core, dtypes, lax
from spmd.transforms.api import vmap
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive
from spmd.transforms.jit import jit
from spmd.transforms.jvp import defjvp_with_output
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.slicing import index_in_dim
from spmd.transforms.lowering import lowering_rules


def _c(like, value):
    dtype = core.get_aval(like).dtype
    return lax.full((), np.asarray(value, dtype), dtype)


def _keys(key, count, layout):
    keys = impls.split(key, (count,), layout)
    return [index_in_dim(keys, i, keepdims=False) for i in range(count)]


def _gamma_one(key, alpha, *, log_space, layout):
    """One Gamma(alpha) sample (or its log). alpha < 1 is boosted to alpha + 1 and the sample
    scaled by u^(1/alpha); in log space that scale is added as -exponential/alpha instead, so
    tiny alphas do not underflow."""
    dtype = core.get_aval(alpha).dtype
    zero, one = _c(alpha, 0), _c(alpha, 1)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, _c(alpha, 1. / 3.))
    c = lax.div(_c(alpha, 1. / 3.), lax.sqrt(d))

    def rejected(state):
        _, x2, v, u = state
        squeeze = lax.ge(u, lax.sub(one, lax.mul(_c(alpha, 0.0331), lax.mul(x2, x2))))
        exact = lax.ge(lax.log(u), lax.add(lax.mul(x2, _c(alpha, 0.5)),
                                           lax.mul(d, lax.add(lax.sub(one, v), lax.log(v)))))
        return lax.bitwise_and(squeeze, exact)

    def next_positive_v(state):
        key, _, _ = state
        key, subkey = _keys(key, 2, layout)
        x = _normal_real(subkey, (), dtype, layout)
        return key, x, lax.add(one, lax.mul(x, c))

    def propose(state):
        key, x_key, u_key = _keys(state[0], 3, layout)
        _, x, v = lax.while_loop(lambda s: lax.le(s[2], zero), next_positive_v,
                                 (x_key, zero, _c(alpha, -1)))
        u = _uniform(u_key, (), dtype, 0., 1., layout)
        return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    key, subkey = _keys(key, 2, layout)
    # the initial state is rejected, so the loop proposes at least once
    _, _, v, _ = lax.while_loop(rejected, propose, (key, zero, one, _c(alpha, 2)))
    if log_space:
        log_u = lax.neg(_exponential(subkey, (), dtype, layout))
        log_boost = lax.select(lax.bitwise_or(boost_mask, lax.eq(log_u, zero)), zero,
                               lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    u = lax.sub(one, _uniform(subkey, (), dtype, 0., 1., layout))
    boost = lax.select(boost_mask, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


def _key_shape(layout):
    return impls.prngs[layout[0]].key_shape


def _gamma_impl(key, a, *, log_space, layout):
    key_shape = _key_shape(layout)
    a_shape = core.get_aval(a).shape
    batch_ndim = core.get_aval(key).ndim - len(key_shape)
    count = math.prod(a_shape[batch_ndim:])
    keys = lax.reshape(key, (math.prod(a_shape[:batch_ndim]), *key_shape))
    keys = vmap(lambda k: impls.split(k, (count,), layout))(keys)
    keys = lax.reshape(keys, (math.prod(a_shape), *key_shape))
    alphas = lax.reshape(a, (math.prod(a_shape),))
    one = partial(_gamma_one, log_space=log_space, layout=layout)
    if layout[0] == "threefry2x32":  # JAX vmaps here, and maps (a scan) for the others
        samples = vmap(one)(keys, alphas)
    else:
        samples = lax.map(lambda ka: one(*ka), (keys, alphas))
    return lax.reshape(samples, a_shape)


def _gamma_aval(key, a, *, log_space, layout):
    return a.strip_weak()


def gamma_grad(sample, a, *, log_space):
    """d(sample)/d(a) for samples of random_gamma (log-samples when log_space)."""
    if not log_space:
        return random_gamma_grad(a, sample)
    x = lax.exp(sample)
    aval = core.get_aval(x)
    # exp of a very negative log-sample rounds to 0: use the smallest normal float instead
    tiny = lax.full(aval.shape, np.asarray(dtypes.finfo(aval.dtype).tiny, aval.dtype), aval.dtype)
    x = lax.select(lax.eq(x, lax.full(aval.shape, np.asarray(0, aval.dtype), aval.dtype)), tiny, x)
    return lax.div(random_gamma_grad(a, x), x)


def _gamma_batch(axis, args, dims, *, log_space, layout):
    key, a = (bdim_at_front(x, d, axis.size) for x, d in zip(args, dims))
    return random_gamma_p.bind(key, a, log_space=log_space, layout=layout), 0


random_gamma_p = Primitive("random_gamma")
random_gamma_p.def_abstract_eval(_gamma_aval)
lowering_rules[random_gamma_p] = lower_fun(_gamma_impl)
defjvp_with_output(random_gamma_p, None,
                   lambda t, out, key, a, **params: lax.mul(t, gamma_grad(
                       out, a, log_space=params["log_space"])))
batching_rules[random_gamma_p] = _gamma_batch


# ---------------------------------------------------------------- the samplers
def _gamma_args(name, key, a, shape, dtype):
    key, _, impl = check_key(name, key)
    dtype = _dtype_of_kind(name, float if dtype is None else dtype, "float")
    if shape is not None:
        shape = canonical_shape(name, shape)
    return key, a, shape, dtype, impls.layout(impl)


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a) values with unit scale (divide by a rate, or multiply by a scale, for others);
    differentiable in `a` by implicit reparameterization."""
    return _gamma(*_gamma_args("gamma", key, a, shape, dtype), False)


def loggamma(key, a, shape=None, dtype=None):
    """The logs of Gamma(a) values, computed in log space: exp(loggamma(...)) equals gamma(...)
    with the same arguments, but small `a` keeps its precision instead of rounding to 0."""
    return _gamma(*_gamma_args("loggamma", key, a, shape, dtype), True)


@partial(jit, static_argnums=(2, 3, 4, 5))
def _gamma(key, a, shape, dtype, layout, log_space):
    if shape is None:
        shape = core.get_aval(a).shape
    else:
        check_shape("gamma", shape, core.get_aval(a).shape)
    a = broadcast_to(lax.convert_element_type(a, dtype), shape)
    return random_gamma_p.bind(key, a, log_space=log_space, layout=layout)
