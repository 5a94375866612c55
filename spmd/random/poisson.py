"""Poisson samples by JAX's two algorithms (those of TensorFlow and NumPy), so the same key
gives JAX's numbers: Knuth's product of uniforms for lam < 10, Hormann's transformed rejection
otherwise. Both loops run over the whole array (each element keeps its first accepted value);
the result takes each element from its algorithm. Like JAX, only for threefry2x32 keys."""
from __future__ import annotations

from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_to
from spmd.random import impls
from spmd.random.keys import check_key
from spmd.random.samplers import _uniform, canonical_shape
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit
from spmd.transforms.lax.slicing import index_in_dim

_F32 = np.dtype(np.float32)


def _split(key, count, layout):
    keys = impls.split(key, (count,), layout)
    return [index_in_dim(keys, i, keepdims=False) for i in range(count)]


def _full(value, dtype, shape):
    return lax.full(shape, np.asarray(value, dtype), dtype)


def _any(pred):
    return lax.reduce_or(pred, tuple(range(core.get_aval(pred).ndim)))


def _knuth(key, lam, shape, dtype, max_iters, layout):
    """Count uniforms until their product falls below exp(-lam): the count minus one."""
    def cond(carry):
        i, _, _, log_prod = carry
        return lax.bitwise_and(_any(lax.gt(log_prod, lax.neg(lam))),
                               lax.lt(i, _full(max_iters, np.int32, ())))

    def body(carry):
        i, k, rng, log_prod = carry
        rng, subkey = _split(rng, 2, layout)
        k = lax.select(lax.gt(log_prod, lax.neg(lam)), lax.add(k, _full(1, dtype, shape)), k)
        u = _uniform(subkey, shape, _F32, 0., 1., layout)
        return lax.add(i, _full(1, np.int32, ())), k, rng, lax.add(log_prod, lax.log(u))

    init = (_full(0, np.int32, ()), _full(0, dtype, shape), key, _full(0, _F32, shape))
    k = lax.while_loop(cond, body, init)[1]
    return lax.sub(k, _full(1, dtype, shape))


def _rejection(key, lam, shape, dtype, max_iters, layout):
    """Hormann's transformed rejection (PTRS), with his constants."""
    log_lam = lax.log(lam)
    b = uf.add(0.931, uf.multiply(2.53, lax.sqrt(lam)))
    a = uf.add(-0.059, uf.multiply(0.02483, b))
    inv_alpha = uf.add(1.1239, uf.divide(1.1328, uf.subtract(b, 3.4)))
    v_r = uf.subtract(0.9277, uf.divide(3.6224, uf.subtract(b, 2)))

    def cond(carry):
        i, _, accepted, _ = carry
        return lax.bitwise_and(_any(lax.bitwise_not(accepted)),
                               lax.lt(i, _full(max_iters, np.int32, ())))

    def body(carry):
        i, k_out, accepted, key = carry
        key, key_u, key_v = _split(key, 3, layout)
        u = uf.subtract(_uniform(key_u, shape, _F32, 0., 1., layout), 0.5)
        v = _uniform(key_v, shape, _F32, 0., 1., layout)
        u_shifted = uf.subtract(0.5, uf.abs(u))
        k = lax.floor(uf.add(uf.add(uf.multiply(uf.add(uf.divide(uf.multiply(2, a), u_shifted),
                                                       b), u), lam), 0.43))
        s = lax.log(uf.divide(uf.multiply(v, inv_alpha),
                              uf.add(uf.divide(a, uf.multiply(u_shifted, u_shifted)), b)))
        t = uf.subtract(uf.add(lax.neg(lam), uf.multiply(k, log_lam)),
                        lax.lgamma(uf.add(k, 1)))
        accept1 = lax.bitwise_and(uf.greater_equal(u_shifted, 0.07), lax.le(v, v_r))
        reject = lax.bitwise_or(uf.less(k, 0), lax.bitwise_and(uf.less(u_shifted, 0.013),
                                                                lax.gt(v, u_shifted)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject),
                                                         lax.le(s, t)))
        return (lax.add(i, _full(1, np.int32, ())), lax.select(accept, k, k_out),
                lax.bitwise_or(accepted, accept), key)

    init = (_full(0, np.int32, ()), _full(-1, _F32, shape), _full(False, np.bool_, shape), key)
    k = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(k, dtype)


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) counts (lam >= 0; computed in float32, as JAX does)."""
    key, _, impl = check_key("poisson", key)
    dtype = np.dtype(int if dtype is None else dtype)
    if not dtypes.is_integer(dtype):
        raise ValueError(f"dtype argument to `poisson` must be an int dtype, got {dtype}")
    if impl.name != "threefry2x32":
        raise NotImplementedError(f"`poisson` is only implemented for the threefry2x32 RNG, "
                                  f"not {impl.name}")
    shape = np.shape(lam) if shape is None else canonical_shape("poisson", shape)
    lam = lax.convert_element_type(broadcast_to(asarray_value(lam), shape), _F32)
    return _poisson(key, lam, tuple(shape), dtypes.canonicalize(dtype), impls.layout(impl))


@partial(jit, static_argnums=(2, 3, 4))
def _poisson(key, lam, shape, dtype, layout):
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), uf.less(lam, 10))
    lam_knuth = lax.select(use_knuth, lam, _full(0, _F32, shape))
    lam_rejection = lax.select(use_knuth, _full(1e5, _F32, shape), lam)
    # JAX bounds both loops by the dtype's largest value: in practice, no bound
    max_iters = min(int(np.iinfo(dtype).max), int(np.iinfo(np.int32).max))
    result = lax.select(use_knuth, _knuth(key, lam_knuth, shape, dtype, max_iters, layout),
                        _rejection(key, lam_rejection, shape, dtype, max_iters, layout))
    return lax.select(uf.equal(lam, 0), _full(0, dtype, shape), result)
