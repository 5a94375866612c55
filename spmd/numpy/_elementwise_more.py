"""The rest of jax.numpy's elementwise functions: the array API's names for NumPy's functions
(acos, pow, bitwise_invert...), and frexp, ldexp, modf, gcd, lcm, divmod, heaviside, sinc, i0,
spacing, nan_to_num, angle and the is* predicates, with JAX's dtypes."""
from __future__ import annotations

import functools

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, check_array_like, dtype_of, promote_args,
                              promote_to_inexact)
from spmd.numpy._ufuncs import _binary, _const_like, _unary
from spmd.transforms import core, dtypes, lax
from spmd.transforms.jit import jit
from spmd.transforms.lax.bitcast import bitcast_convert_type

# the array API's names
acos, acosh, asin, asinh = uf.arccos, uf.arccosh, uf.arcsin, uf.arcsinh
atan, atanh, atan2 = uf.arctan, uf.arctanh, uf.arctan2
bitwise_invert, bitwise_left_shift, bitwise_right_shift = uf.invert, uf.left_shift, uf.right_shift
pow = uf.power  # noqa: A001


def _bitwise_count(x):
    kind = dtype_of(x)
    if kind == np.bool_:
        return lax.convert_element_type(x, np.uint8)
    if not dtypes.is_integer(kind):
        raise TypeError(f"bitwise_count requires integer or bool arguments, got {kind}")
    magnitude = x if dtypes.is_unsigned(kind) else lax.abs(x)
    return lax.convert_element_type(lax.population_count(magnitude), np.uint8)


bitwise_count = _unary("bitwise_count", _bitwise_count)
fabs = _unary("fabs", lambda x: lax.abs(_real_only("fabs", x)), inexact=True)


def _real_only(name, x):
    if dtypes.is_complex(dtype_of(x)):
        raise TypeError(f"{name} does not support complex input ({dtype_of(x)}); use "
                        "spmd.numpy.abs")
    return x


def divmod(x1, x2, /):  # noqa: A001
    """(floor_divide(x1, x2), remainder(x1, x2))."""
    return uf.floor_divide(x1, x2), uf.remainder(x1, x2)


def modf(x, /, out=None):
    """(fractional part, integral part), both with x's sign."""
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.modf is not supported")
    (x,) = promote_to_inexact("modf", x)
    whole = uf.trunc(x)
    return lax.sub(x, whole), whole


def ldexp(x1, x2, /):
    """x1 * 2**x2 for integer x2, exactly (as NumPy) wherever the result is a normal number."""
    check_array_like("ldexp", x1, x2)
    if not dtypes.is_integer(dtype_of(x2)) and dtype_of(x2) != np.bool_:
        raise TypeError(f"ldexp's second argument must be an integer array, got {dtype_of(x2)}")
    x1, x2 = promote_args("ldexp", x1, x2)
    (x1,) = promote_to_inexact("ldexp", x1)
    dtype = dtype_of(x1)
    info = dtypes.finfo(dtype)
    limit = 3 * (info.maxexp - 2)  # beyond it every finite x1 gives 0 or inf anyway
    wide = _SIGNED_INT[info.bits]
    e = lax.convert_element_type(x2, wide)
    e = lax.clamp(lax.full((), -limit, wide), e, lax.full((), limit, wide))
    # three powers of two, each a normal number built from its bits: the products are exact,
    # and balanced parts keep the intermediate results in range where the end result is
    first = uf.floor_divide(e, 3)
    second = uf.floor_divide(lax.sub(e, first), 2)
    third = lax.sub(lax.sub(e, first), second)
    out = x1
    for part in (first, second, third):
        out = lax.mul(out, _power_of_two(part, dtype, info))
    return out


_SIGNED_INT = {16: np.dtype(np.int16), 32: np.dtype(np.int32), 64: np.dtype(np.int64)}


def _power_of_two(k, dtype, info):
    """2**k exactly, for integer k in the normal exponent range of `dtype`."""
    wide = core.get_aval(k).dtype
    shape = core.get_aval(k).shape
    biased = lax.add(k, lax.full(shape, info.maxexp - 1, wide))
    return bitcast_convert_type(lax.shift_left(biased, lax.full(shape, info.nmant, wide)), dtype)


def frexp(x, /):
    """(mantissa in [0.5, 1) with x's sign, int32 exponent) with x = mantissa * 2**exponent;
    zeros, infinities and NaNs give (x, 0)."""
    (x,) = promote_to_inexact("frexp", x)
    return _frexp_program(x)


@functools.partial(jit, inline=True)  # one program for its dozen operations when eager
def _frexp_program(x):
    kind = dtype_of(x)
    if dtypes.is_complex(kind):
        raise TypeError("frexp does not support complex input")
    info = dtypes.finfo(kind)
    bits = np.dtype(kind).itemsize * 8
    uint = np.dtype(f"uint{bits}")
    nmant, bias = int(info.nmant), int(info.maxexp) - 1
    tiny = lax.lt(lax.abs(x), _const_like(x, float(info.smallest_normal)))
    lift = float(2.0 ** (nmant + 1))  # subnormals scaled into the normal range first
    scaled = lax.select(tiny, lax.mul(x, _const_like(x, lift)), x)
    raw = lax.bitcast_convert_type(scaled, uint)
    shift = lax.full(core.get_aval(raw).shape, nmant, uint)
    exp_mask = lax.full(core.get_aval(raw).shape, (1 << (bits - 1 - nmant)) - 1, uint)
    field = lax.bitwise_and(lax.shift_right_logical(raw, shift), exp_mask)
    exponent = lax.sub(lax.convert_element_type(field, np.int32),
                       lax.full(core.get_aval(x).shape, bias - 1, np.int32))
    exponent = lax.sub(exponent, lax.select(tiny, lax.full(core.get_aval(x).shape, nmant + 1,
                                                           np.int32),
                                            lax.full(core.get_aval(x).shape, 0, np.int32)))
    keep = lax.bitwise_not(lax.shift_left(exp_mask, shift))
    half_exponent = lax.full(core.get_aval(raw).shape, (bias - 1) << nmant, uint)
    mantissa = lax.bitcast_convert_type(
        lax.bitwise_or(lax.bitwise_and(raw, keep), half_exponent), kind)
    special = uf.logical_or(lax.eq(x, _const_like(x, 0)), uf.logical_not(uf.isfinite(x)))
    return (lax.select(special, x, mantissa),
            lax.select(special, lax.full(core.get_aval(x).shape, 0, np.int32), exponent))


def _gcd(x, y):
    if not dtypes.is_integer(dtype_of(x)):
        raise TypeError(f"gcd and lcm require integer arguments, got {dtype_of(x)}")
    zero = _const_like(x, 0)

    def step(ab):
        a, b = ab
        nonzero = lax.ne(b, zero)
        safe_b = lax.select(nonzero, b, _const_like(b, 1))
        return lax.select(nonzero, b, a), lax.select(nonzero, lax.rem(a, safe_b), zero)

    def more(ab):
        return lax.reduce_or(lax.ne(ab[1], zero), tuple(range(core.get_aval(x).ndim)))

    return lax.while_loop(more, step, (lax.abs(x), lax.abs(y)))[0]


gcd = _binary("gcd", _gcd)


def _lcm(x, y):
    g = _gcd(x, y)
    safe = lax.select(lax.eq(g, _const_like(g, 0)), _const_like(g, 1), g)
    return lax.abs(lax.mul(lax.div(x, safe), y))


lcm = _binary("lcm", _lcm)
heaviside = _binary("heaviside", lambda x1, x2: lax.select(
    lax.lt(x1, _const_like(x1, 0)), _const_like(x1, 0),
    lax.select(lax.gt(x1, _const_like(x1, 0)), _const_like(x1, 1), x2)), inexact=True)


def _sinc(x):
    zero = lax.eq(x, _const_like(x, 0))
    pi_x = lax.mul(lax.select(zero, _const_like(x, 1), x), _const_like(x, np.pi))
    return lax.select(zero, _const_like(x, 1), lax.div(lax.sin(pi_x), pi_x))


sinc = _unary("sinc", _sinc, inexact=True)
i0 = _unary("i0", lambda x: lax.mul(lax.bessel_i0e(x), lax.exp(lax.abs(x))), inexact=True)
spacing = _unary("spacing", lambda x: lax.sub(lax.nextafter(x, lax.select(
    uf.signbit(x), _const_like(x, -np.inf), _const_like(x, np.inf))), x), inexact=True)


def _signed_inf_test(name, sign):
    def test(x):
        if dtypes.is_complex(dtype_of(x)):
            raise TypeError(f"{name} is not defined for complex input")
        if not dtypes.is_inexact(dtype_of(x)):
            return lax.full(core.get_aval(x).shape, False, np.bool_)
        return lax.eq(x, _const_like(x, sign * np.inf))
    return _unary(name, test)


isposinf, isneginf = _signed_inf_test("isposinf", 1), _signed_inf_test("isneginf", -1)
iscomplex = _unary("iscomplex", lambda x: lax.ne(lax.imag(x), _const_like(lax.imag(x), 0))
                   if dtypes.is_complex(dtype_of(x))
                   else lax.full(core.get_aval(x).shape, False, np.bool_))
isreal = _unary("isreal", lambda x: lax.eq(lax.imag(x), _const_like(lax.imag(x), 0))
                if dtypes.is_complex(dtype_of(x))
                else lax.full(core.get_aval(x).shape, True, np.bool_))


def iscomplexobj(x):
    """True for arrays (or values) of a complex dtype."""
    if x is None:
        return False
    kind = getattr(x, "dtype", None)
    return dtypes.is_complex(np.dtype(kind) if kind is not None else np.asarray(x).dtype)


def isrealobj(x):
    return not iscomplexobj(x)


def isscalar(element):
    """True for Python and NumPy scalars and 0-d spmd arrays, as in JAX."""
    if hasattr(element, "__jax_array__"):
        element = element.__jax_array__()
    if isinstance(element, (bool, int, float, complex, np.generic)):
        return True
    aval = getattr(element, "aval", None)
    return aval is not None and aval.ndim == 0


def iterable(y):
    try:
        iter(y)
    except TypeError:
        return False
    return True


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN to `nan`, infinities to `posinf`/`neginf` (default: the dtype's largest values)."""
    x = asarray_value(x)
    kind = dtype_of(x)
    if not dtypes.is_inexact(kind):
        return x
    if dtypes.is_complex(kind):
        return lax.complex_(nan_to_num(lax.real(x), nan=nan, posinf=posinf, neginf=neginf),
                            nan_to_num(lax.imag(x), nan=nan, posinf=posinf, neginf=neginf))
    info = dtypes.finfo(kind)
    out = lax.select(uf.isnan(x), _const_like(x, nan), x)
    out = lax.select(lax.eq(out, _const_like(x, np.inf)),
                     _const_like(x, info.max if posinf is None else posinf), out)
    return lax.select(lax.eq(out, _const_like(x, -np.inf)),
                      _const_like(x, info.min if neginf is None else neginf), out)


def angle(z, deg=False):
    """The argument of complex z (real input: 0 or pi), in radians or degrees."""
    (z,) = promote_to_inexact("angle", z)
    if dtypes.is_complex(dtype_of(z)):
        re, im = lax.real(z), lax.imag(z)
    else:
        re, im = z, _const_like(z, 0)
    out = lax.atan2(im, re)
    return lax.mul(out, _const_like(out, 180 / np.pi)) if deg else out


__all__ = ["acos", "acosh", "asin", "asinh", "atan", "atanh", "atan2", "bitwise_invert",
           "bitwise_left_shift", "bitwise_right_shift", "pow", "bitwise_count", "fabs", "divmod",
           "modf", "ldexp", "frexp", "gcd", "lcm", "heaviside", "sinc", "i0", "spacing",
           "isposinf", "isneginf", "iscomplex", "isreal", "iscomplexobj", "isrealobj", "isscalar",
           "iterable", "nan_to_num", "angle"]
