"""Binomial samples by JAX's algorithms (those of TensorFlow), so the same key gives JAX's
numbers: for n*q <= 10 (q = min(p, 1-p)) inversion by sums of geometric waiting times, else
Hormann's BTRS transformed rejection with Stirling-series bounds. Samples are floats, as in
JAX: NaN for invalid n or p, inf for infinite n."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_to, shape_of
from spmd.random import impls
from spmd.random.distributions import _float_dtype, _key_and_layout, _result_shape
from spmd.random.poisson import _any, _full, _split
from spmd.random.samplers import _uniform
from spmd.transforms import core, dtypes, lax
from spmd.transforms.batching import moveaxis
from spmd.transforms.jit import jit

# log k! - (Stirling's approximation) for k = 0..9; beyond, the series 1/12k - 1/360k^3 + ...
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k):
    aval = core.get_aval(k)
    use_table = uf.less_equal(k, 9)
    k = lax.clamp(_full(0., aval.dtype, ()), k, _full(9., aval.dtype, ()))
    kp1 = uf.add(k, 1)
    kp1sq = uf.multiply(kp1, kp1)
    approx = uf.divide(uf.subtract(1.0 / 12, uf.divide(uf.subtract(1.0 / 360,
                                                                   uf.divide(1.0 / 1260, kp1sq)),
                                                       kp1sq)), kp1)
    index = lax.convert_element_type(lax.floor(k), np.int32)
    table = _full(_STIRLING_TAIL[0], aval.dtype, aval.shape)
    for j, value in enumerate(_STIRLING_TAIL[1:], 1):
        table = lax.select(lax.eq(index, _full(j, np.int32, aval.shape)),
                           _full(value, aval.dtype, aval.shape), table)
    return lax.select(use_table, table, approx)


def _inversion(key, count, prob, shape, dtype, layout):
    """Count geometric waiting times until their sum passes n: the count minus one."""
    log1mp = lax.log1p(lax.neg(prob))

    def body(carry):
        num_geom, geom_sum, key = carry
        subkey, key = _split(key, 2, layout)
        num_geom = lax.select(lax.le(geom_sum, count), uf.add(num_geom, 1), num_geom)
        u = _uniform(subkey, shape, core.get_aval(prob).dtype, 0., 1., layout)
        return num_geom, uf.add(geom_sum, lax.ceil(uf.divide(lax.log(u), log1mp))), key

    pdtype = core.get_aval(prob).dtype
    init = (_full(0, pdtype, shape), _full(0, pdtype, shape), key)
    k = lax.while_loop(lambda c: _any(lax.le(c[1], count)), body, init)[0]
    return lax.convert_element_type(uf.subtract(k, 1), dtype)


def _btrs(key, count, prob, shape, dtype, layout):
    stddev = uf.sqrt(uf.multiply(uf.multiply(count, prob), uf.subtract(1, prob)))
    b = uf.add(1.15, uf.multiply(2.53, stddev))
    a = uf.add(uf.add(-0.0873, uf.multiply(0.0248, b)), uf.multiply(0.01, prob))
    c = uf.add(uf.multiply(count, prob), 0.5)
    v_r = uf.subtract(0.92, uf.divide(4.2, b))
    r = uf.divide(prob, uf.subtract(1, prob))
    alpha = uf.multiply(uf.add(2.83, uf.divide(5.1, b)), stddev)
    m = uf.floor(uf.multiply(uf.add(count, 1), prob))
    pdtype = core.get_aval(prob).dtype

    def body(carry):
        k_out, accepted, key = carry
        key, key_u, key_v = _split(key, 3, layout)
        u = uf.subtract(_uniform(key_u, shape, pdtype, 0., 1., layout), 0.5)
        v = _uniform(key_v, shape, pdtype, 0., 1., layout)
        us = uf.subtract(0.5, uf.abs(u))
        accept1 = uf.logical_and(uf.greater_equal(us, 0.07), uf.less_equal(v, v_r))
        k = uf.floor(uf.add(uf.multiply(uf.add(uf.divide(uf.multiply(2, a), us), b), u), c))
        reject = uf.logical_or(uf.less(k, 0), uf.greater(k, count))
        v = uf.log(uf.divide(uf.multiply(v, alpha), uf.add(uf.divide(a, uf.multiply(us, us)),
                                                           b)))
        n_m1 = uf.add(uf.subtract(count, m), 1)
        n_k1 = uf.add(uf.subtract(count, k), 1)
        ub = uf.multiply(uf.add(m, 0.5), uf.log(uf.divide(uf.add(m, 1), uf.multiply(r, n_m1))))
        ub = uf.add(ub, uf.multiply(uf.add(count, 1), uf.log(uf.divide(n_m1, n_k1))))
        ub = uf.add(ub, uf.multiply(uf.add(k, 0.5),
                                    uf.log(uf.divide(uf.multiply(r, n_k1), uf.add(k, 1)))))
        ub = uf.add(uf.add(ub, _stirling_tail(m)), _stirling_tail(uf.subtract(count, m)))
        ub = uf.subtract(uf.subtract(ub, _stirling_tail(k)),
                         _stirling_tail(uf.subtract(count, k)))
        accept = uf.logical_or(accept1, uf.logical_and(uf.logical_not(reject),
                                                       uf.less_equal(v, ub)))
        return lax.select(accept, k, k_out), uf.logical_or(accepted, accept), key

    init = (_full(-1, pdtype, shape), _full(False, np.bool_, shape), key)
    k = lax.while_loop(lambda c: _any(lax.bitwise_not(c[1])), body, init)[0]
    return lax.convert_element_type(k, dtype)


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial(n, p) counts, as floats of `dtype` (n may be any non-negative float; it is
    floored, as NumPy does)."""
    key, layout = _key_and_layout("binomial", key)
    dtype = _float_dtype("binomial", dtype)
    shape = _result_shape("binomial", shape, n, p)
    return _binomial(key, n, p, shape, dtype, layout)


@partial(jit, static_argnums=(3, 4, 5))
def _binomial(key, count, prob, shape, dtype, layout):
    prob = asarray_value(prob)
    if not dtypes.is_inexact(core.get_aval(prob).dtype):
        prob = lax.convert_element_type(prob, dtypes.default_float())
    pdtype = core.get_aval(prob).dtype
    count = broadcast_to(lax.convert_element_type(count, pdtype), shape)
    prob = broadcast_to(prob, shape)
    p_lt_half = uf.less(prob, 0.5)
    q = lax.select(p_lt_half, prob, uf.subtract(1.0, prob))
    count_nan_or_neg = uf.logical_or(uf.isnan(count), uf.less(count, 0.0))
    count_inf = uf.isinf(count)
    q_is_nan = uf.isnan(q)
    q_l_0 = uf.less(q, 0.0)
    q = lax.select(uf.logical_or(q_is_nan, q_l_0), _full(0.01, pdtype, shape), q)
    use_inversion = uf.logical_or(count_nan_or_neg, uf.less_equal(uf.multiply(count, q), 10.0))
    count = uf.floor(count)
    count_inv = lax.select(use_inversion, count, _full(0., pdtype, shape))
    count_btrs = lax.select(use_inversion, _full(1e4, pdtype, shape), count)
    q_btrs = lax.select(use_inversion, _full(0.5, pdtype, shape), q)
    samples = lax.select(use_inversion, _inversion(key, count_inv, q, shape, dtype, layout),
                         _btrs(key, count_btrs, q_btrs, shape, dtype, layout))
    invalid = uf.logical_or(uf.logical_or(q_l_0, q_is_nan), count_nan_or_neg)
    samples = lax.select(invalid, _full(np.nan, dtype, shape), samples)
    samples = lax.select(uf.logical_and(count_inf, uf.logical_not(invalid)),
                         _full(np.inf, dtype, shape), samples)
    keep = uf.logical_or(uf.logical_or(p_lt_half, count_nan_or_neg),
                         uf.logical_or(q_is_nan, count_inf))
    return lax.select(keep, samples, uf.subtract(lax.convert_element_type(count, dtype),
                                                 samples))


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Counts of n draws over the categories of p's last axis: one binomial per category, of
    what remains of n with that category's share of the remaining probability (a scan over
    the categories with one split key each, as JAX does)."""
    key, layout = _key_and_layout("multinomial", key)
    n, p = asarray_value(n), asarray_value(p)
    dtype = dtypes.default_float() if dtype is None else _float_dtype("multinomial", dtype)
    if shape is None:
        shape = core.get_aval(p).shape
    if len(shape) < 1:
        raise ValueError("multinomial: p (or shape) needs a last axis of categories, got shape "
                         f"{tuple(shape)}")
    return _multinomial(key, n, p, tuple(shape), dtype, layout, unroll)


@partial(jit, static_argnums=(3, 4, 5, 6))
def _multinomial(key, n, p, shape, dtype, layout, unroll):
    inexact = dtypes.result_type((core.get_aval(n).dtype, core.get_aval(n).weak_type),
                                 (core.get_aval(p).dtype, core.get_aval(p).weak_type))[0]
    inexact = inexact if dtypes.is_inexact(inexact) else dtypes.default_float()
    n = broadcast_to(lax.convert_element_type(n, inexact), shape[:-1])
    p = moveaxis(broadcast_to(lax.convert_element_type(p, inexact), shape), -1, 0)
    remaining = lax.cumsum(p, 0, reverse=True)
    ratios = uf.divide(p, lax.select(uf.equal(remaining, 0), _full(1, inexact, shape_of(p)),
                                     remaining))
    keys = impls.split(key, (shape[-1],), layout)

    def step(remainder, ratio_key):
        ratio, k = ratio_key
        ratio = uf.minimum(uf.maximum(ratio, 0), 1)
        count = _binomial(k, remainder, ratio, shape[:-1], inexact, layout)
        return uf.subtract(remainder, count), count

    _, counts = lax.scan(step, n, (ratios, keys), unroll=unroll)
    return lax.convert_element_type(moveaxis(counts, 0, -1), dtype)
