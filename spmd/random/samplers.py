"""The samplers: random bits turned into values of a distribution, by JAX's algorithms, so the
same key gives the same numbers as JAX (bit for bit where the arithmetic is the same XLA code;
see each docstring). Each public function checks its arguments, then runs a core compiled once
per (shape, dtype, layout): eagerly that is one XLA call, inside jit it is inlined."""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, broadcast_shapes, broadcast_to
from spmd.random import impls, streams
from spmd.random.keys import check_key
from spmd.transforms import core, dtypes, lax
from spmd.transforms.batching import moveaxis
from spmd.transforms.jit import jit
from spmd.transforms.lax.bitcast import bitcast_convert_type
from spmd.transforms.lax.slicing import index_in_dim


# ---------------------------------------------------------------- argument checks
def canonical_shape(name: str, shape) -> tuple:
    if isinstance(shape, (int, np.integer)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{name}: shape must be a sequence of non-negative integers, got "
                        f"{shape!r}; write ({shape},) for a 1-d shape")
    out = tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in out):
        raise TypeError(f"{name}: shape must be a sequence of non-negative integers, got "
                        f"{shape!r}")
    return tuple(int(d) for d in out)


def check_shape(name: str, shape, *param_shapes):
    """The parameters' shapes must broadcast to exactly `shape` (JAX's rule and message)."""
    try:
        result = broadcast_shapes(shape, *param_shapes)
    except ValueError:
        result = None
    if result != tuple(shape):
        raise ValueError(f"{name} parameter shapes must be broadcast-compatible with shape "
                         "argument, and the result of broadcasting the shapes must equal the "
                         f"shape argument, but got result {result} for shape argument "
                         f"{tuple(shape)} (parameter shapes: "
                         f"{', '.join(str(tuple(s)) for s in param_shapes)}).")


def _dtype_of_kind(name: str, dtype, kind: str):
    """`dtype` canonicalized, after checking it is of the kind the sampler makes."""
    dtype = np.dtype(dtype)
    ok = {"float": dtypes.is_float, "inexact": dtypes.is_inexact,
          "uint": dtypes.is_unsigned}[kind](dtype)
    if not ok:
        kinds = {"float": "a float", "inexact": "a float or complex",
                 "uint": "an unsigned int"}[kind]
        raise ValueError(f"dtype argument to `{name}` must be {kinds} dtype, got {dtype}")
    return dtypes.canonicalize(dtype)


def _for_each_subkey(draw, key, count: int, layout):
    """draw(k) for each of the `count` keys split from `key`, stacked. One draw per key, as JAX
    does: vmap would hand rbg's bit generator a batch of keys, which it reads as the first key
    alone (JAX's batching rule), and so give other bits."""
    keys = impls.split(key, (count,), layout)
    return lax.concatenate([lax.expand_dims(draw(index_in_dim(keys, i, keepdims=False)), (0,))
                            for i in range(count)], 0)


def _const(value, dtype, shape=()):
    return lax.full(shape, np.asarray(value, dtype), dtype)


# ---------------------------------------------------------------- bits and uniform
def bits(key, shape=(), dtype=None):
    """Uniform random bits as unsigned integers (default uint32; uint64 under x64)."""
    key, _, impl = check_key("bits", key)
    dtype = dtypes.canonicalize(np.uint64) if dtype is None else _dtype_of_kind(
        "bits", dtype, "uint")
    return _bits(key, canonical_shape("bits", shape), dtype, impls.layout(impl))


@partial(jit, static_argnums=(1, 2, 3))
def _bits(key, shape, dtype, layout):
    return impls.random_bits(key, dtype.itemsize * 8, shape, layout)


def uniform(key, shape=(), dtype=float, minval=0., maxval=1.):
    """Uniform values in [minval, maxval). Bit-exact with JAX: the top mantissa bits of random
    bits, with exponent 0, give a float in [1, 2); subtract 1, scale, shift, clamp at minval."""
    key, _, impl = check_key("uniform", key)
    dtype = _dtype_of_kind("uniform", dtype, "float")
    shape = canonical_shape("uniform", shape)
    check_shape("uniform", shape, np.shape(minval), np.shape(maxval))
    return _uniform(key, shape, dtype, minval, maxval, impls.layout(impl))


@partial(jit, static_argnums=(1, 2, 5))
def _uniform(key, shape, dtype, minval, maxval, layout):
    minval = lax.convert_element_type(minval, dtype)
    maxval = lax.convert_element_type(maxval, dtype)
    info = dtypes.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    rng_bits = 8 if nmant < 8 else nbits  # bfloat16 takes 8 random bits, as in JAX
    uint = streams.UINT_DTYPES[nbits]
    raw = impls.random_bits(key, rng_bits, shape, layout)
    raw = lax.convert_element_type(raw, uint) if rng_bits != nbits else raw
    one_bits = np.array(1.0, dtype).view(uint)
    float_bits = lax.bitwise_or(lax.shift_right_logical(raw, _const(rng_bits - nmant, uint, shape)),
                                _const(one_bits, uint, shape))
    floats = lax.sub(bitcast_convert_type(float_bits, dtype), _const(1.0, dtype, shape))
    scaled = uf.add(uf.multiply(floats, uf.subtract(maxval, minval)), minval)
    return uf.maximum(minval, scaled)


# ---------------------------------------------------------------- normal and relatives
def normal(key, shape=(), dtype=float):
    """Standard normal values: sqrt(2) * erfinv(u) for u uniform in (-1, 1), as JAX. Complex
    dtypes take real and imaginary parts from two split keys, each scaled by 1/sqrt(2).
    Bit-exact with JAX: the same XLA lowers erf_inv (chlo.erf_inv) for both."""
    key, _, impl = check_key("normal", key)
    dtype = _dtype_of_kind("normal", dtype, "inexact")
    return _normal(key, canonical_shape("normal", shape), dtype, impls.layout(impl))


@partial(jit, static_argnums=(1, 2, 3))
def _normal(key, shape, dtype, layout):
    if not dtypes.is_complex(dtype):
        return _normal_real(key, shape, dtype, layout)
    real_dtype = np.dtype(np.float64 if dtype == np.complex128 else np.float32)
    parts = _for_each_subkey(lambda k: _normal_real(k, shape, real_dtype, layout), key, 2,
                             layout)
    re, im = (index_in_dim(parts, i, keepdims=False) for i in (0, 1))
    return lax.div(lax.complex_(re, im), _const(np.sqrt(2), dtype, shape))


def _normal_real(key, shape, dtype, layout):
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = _uniform(key, shape, dtype, lo, np.array(1.0, dtype), layout)
    return lax.mul(_const(np.sqrt(2), dtype, shape), lax.erf_inv(u))


def truncated_normal(key, lower, upper, shape=None, dtype=float):
    """Normal values truncated to the open interval (lower, upper): the inverse CDF of a uniform
    between erf(lower/sqrt2) and erf(upper/sqrt2), clamped just inside the bounds (JAX's)."""
    key, _, impl = check_key("truncated_normal", key)
    dtype = _dtype_of_kind("truncated_normal", dtype, "float")
    if shape is None:
        shape = broadcast_shapes(np.shape(lower), np.shape(upper))
    else:
        shape = canonical_shape("truncated_normal", shape)
        check_shape("truncated_normal", shape, np.shape(lower), np.shape(upper))
    return _truncated_normal(key, lower, upper, shape, dtype, impls.layout(impl))


@partial(jit, static_argnums=(3, 4, 5))
def _truncated_normal(key, lower, upper, shape, dtype, layout):
    sqrt2 = np.array(np.sqrt(2), dtype)
    lower = lax.convert_element_type(lower, dtype)
    upper = lax.convert_element_type(upper, dtype)
    a = lax.erf(uf.divide(lower, sqrt2))
    b = lax.erf(uf.divide(upper, sqrt2))
    u = _uniform(key, shape, dtype, a, b, layout)
    out = lax.mul(_const(sqrt2, dtype, shape), lax.erf_inv(u))
    # clamp into the open interval: rounding (or u == a) must not reach the bounds
    above = lax.nextafter(lower, _const(np.inf, dtype, core.get_aval(lower).shape))
    below = lax.nextafter(upper, _const(-np.inf, dtype, core.get_aval(upper).shape))
    return uf.minimum(below, uf.maximum(above, out))


def bernoulli(key, p=np.float32(0.5), shape=None):  # noqa: B008  (JAX's default, immutable)
    """Booleans that are True with probability p: uniform(key, shape, p.dtype) < p."""
    key, _, impl = check_key("bernoulli", key)
    p = asarray_value(p)
    dtype = core.get_aval(p).dtype
    if not dtypes.is_float(dtype):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {dtype}.")
    if shape is None:
        shape = core.get_aval(p).shape
    else:
        shape = canonical_shape("bernoulli", shape)
        check_shape("bernoulli", shape, core.get_aval(p).shape)
    return _bernoulli(key, p, shape, impls.layout(impl))


@partial(jit, static_argnums=(2, 3))
def _bernoulli(key, p, shape, layout):
    return uf.less(_uniform(key, shape, core.get_aval(p).dtype, 0., 1., layout), p)


def exponential(key, shape=(), dtype=float):
    """Exponential(1) values: -log1p(-u) for u uniform in [0, 1)."""
    key, _, impl = check_key("exponential", key)
    dtype = _dtype_of_kind("exponential", dtype, "float")
    return _exponential(key, canonical_shape("exponential", shape), dtype, impls.layout(impl))


@partial(jit, static_argnums=(1, 2, 3))
def _exponential(key, shape, dtype, layout):
    u = _uniform(key, shape, dtype, 0., 1., layout)
    return lax.neg(lax.log1p(lax.neg(u)))


_GUMBEL_MODES = ("low", "high")


def gumbel_mode(mode) -> str:
    """The Gumbel sampling mode: None means JAX's default, "low"."""
    mode = "low" if mode is None else mode
    if mode not in _GUMBEL_MODES:
        raise ValueError(f"gumbel: mode must be one of {_GUMBEL_MODES} (or None), got {mode!r}")
    return mode


def gumbel(key, shape=(), dtype=None, mode=None):
    """Gumbel values -log(-log(u)). mode "low" (default, JAX's) draws u uniform in
    [tiny, 1); "high" combines two uniforms for a finer u near 1 (JAX's high-dynamic-range
    mode), so the largest float32 value rises from about 16 to about 32."""
    key, _, impl = check_key("gumbel", key)
    dtype = _dtype_of_kind("gumbel", float if dtype is None else dtype, "float")
    shape = canonical_shape("gumbel", shape)
    return _gumbel(key, shape, dtype, gumbel_mode(mode), impls.layout(impl))


@partial(jit, static_argnums=(1, 2, 3, 4))
def _gumbel(key, shape, dtype, mode, layout):
    info = dtypes.finfo(dtype)
    if mode == "low":
        u = _uniform(key, shape, dtype, np.array(info.tiny, dtype), 1., layout)
        return lax.neg(lax.log(lax.neg(lax.log(u))))
    pair = _uniform(key, (2,) + shape, dtype, 0., 1., layout)
    high, low = (index_in_dim(pair, i, keepdims=False) for i in (0, 1))
    refined = uf.add(uf.add(high, uf.multiply(2.0 ** -int(info.nmant), low)),
                     np.array(info.tiny, dtype))
    x = lax.select(uf.greater_equal(high, 0.5), high, refined)
    return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))


# ---------------------------------------------------------------- integers
def randint(key, shape, minval, maxval, dtype=int):
    """Integers uniform in [minval, maxval), by JAX's method: two words of random bits combined
    modulo the span (nearly unbiased). maxval above the dtype's range is honoured, so
    randint(key, s, 0, 256, uint8) reaches 255."""
    key, _, impl = check_key("randint", key)
    if not dtypes.is_integer(np.dtype(dtype)):  # JAX raises TypeError here, ValueError elsewhere
        raise TypeError(f"randint only accepts integer dtypes, got {np.dtype(dtype)}")
    dtype = dtypes.canonicalize(dtype)
    shape = canonical_shape("randint", shape)
    check_shape("randint", shape, np.shape(minval), np.shape(maxval))
    return _randint(key, shape, minval, maxval, dtype, impls.layout(impl))


def _as_integer_array(x):
    x = asarray_value(x)
    if not dtypes.is_integer(core.get_aval(x).dtype):
        x = lax.convert_element_type(x, dtypes.default_int())
    return x


def _convert_and_clip_integer(x, dtype):
    """x (integer) clamped to what both its dtype and `dtype` hold, then converted."""
    src = core.get_aval(x).dtype
    lo = max(int(np.iinfo(dtype).min), int(np.iinfo(src).min))
    hi = min(int(np.iinfo(dtype).max), int(np.iinfo(src).max))
    shape = core.get_aval(x).shape
    clipped = lax.clamp(_const(lo, src, shape), x, _const(hi, src, shape))
    return lax.convert_element_type(clipped, dtype)


@partial(jit, static_argnums=(1, 4, 5))
def _randint(key, shape, minval, maxval, dtype, layout):
    minval, maxval = _as_integer_array(minval), _as_integer_array(maxval)
    # a maxval beyond the dtype's range (0..256 for uint8) widens the span by one
    top = _convert_and_clip_integer(asarray_value(np.iinfo(dtype).max, dtype),
                                    core.get_aval(maxval).dtype)
    maxval_out_of_range = broadcast_to(uf.greater(maxval, top), shape)
    minval = broadcast_to(_convert_and_clip_integer(minval, dtype), shape)
    maxval = broadcast_to(_convert_and_clip_integer(maxval, dtype), shape)
    nbits = np.iinfo(dtype).bits
    unsigned = streams.UINT_DTYPES[nbits]
    words = _for_each_subkey(lambda k: impls.random_bits(k, nbits, shape, layout), key, 2,
                             layout)
    higher_bits, lower_bits = (index_in_dim(words, i, keepdims=False) for i in (0, 1))

    one = _const(1, unsigned, shape)
    span = lax.convert_element_type(lax.sub(maxval, minval), unsigned)
    span = lax.select(lax.le(maxval, minval), one, span)  # empty range: always minval
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, one), span)
    # (hi * 2**nbits + lo) mod span without overflow: 2**nbits mod span, squared from its root
    multiplier = lax.rem(_const(2 ** (nbits // 2), unsigned, shape), span)
    multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(lax.rem(higher_bits, span), multiplier), lax.rem(lower_bits, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


# ---------------------------------------------------------------- categorical
def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Indices drawn with probabilities softmax(logits, axis): the argmax of logits plus Gumbel
    noise (JAX's method). Without replacement, the top-k of one perturbation of the logits."""
    key, _, impl = check_key("categorical", key)
    logits = asarray_value(logits)
    aval = core.get_aval(logits)
    if not dtypes.is_float(aval.dtype):  # the Gumbel noise takes the logits' dtype
        raise ValueError(f"categorical: logits must have a float dtype, got {aval.dtype}")
    if not -aval.ndim <= axis < aval.ndim:
        raise ValueError(f"categorical: axis {axis} is out of bounds for logits of shape "
                         f"{aval.shape}")
    axis = axis - aval.ndim if axis >= 0 else axis
    batch_shape = tuple(np.delete(aval.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape("categorical", shape)
        check_shape("categorical", shape, batch_shape)
    mode = gumbel_mode(mode)
    if not replace:
        k = math.prod(shape[:len(shape) - len(batch_shape)])
        if k > aval.shape[axis]:
            raise ValueError(f"Number of samples without replacement ({k}) cannot exceed number "
                             f"of categories ({aval.shape[axis]}).")
    return _categorical(key, logits, axis, shape, batch_shape, bool(replace), mode,
                        impls.layout(impl))


@partial(jit, static_argnums=(2, 3, 4, 5, 6, 7))
def _categorical(key, logits, axis, shape, batch_shape, replace, mode, layout):
    aval = core.get_aval(logits)
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis % aval.ndim, aval.shape[axis])
        noise = _gumbel(key, (*prefix, *logits_shape), aval.dtype, mode, layout)
        noisy = uf.add(noise, lax.expand_dims(logits, tuple(range(len(prefix)))))
        return lax.argmax(noisy, axis % core.get_aval(noisy).ndim, dtypes.default_int())
    noisy = uf.add(logits, _gumbel(key, aval.shape, aval.dtype, mode, layout))
    _, indices = lax.top_k(moveaxis(noisy, axis, -1), math.prod(prefix))
    nd = core.get_aval(indices).ndim  # batch_shape + (k,): the k draws go in front
    return lax.reshape(lax.transpose(indices, (nd - 1,) + tuple(range(nd - 1))), shape)
