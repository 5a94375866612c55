"""NumPy's elementwise functions: promote and broadcast, then one lax primitive (or a few)."""
from __future__ import annotations

import numpy as np

from spmd.numpy._core import promote_args, promote_to_inexact
from spmd.transforms import core, dtypes, lax
from spmd.transforms.lax.bitcast import bitcast_convert_type


def _binary(name, op, inexact=False):
    promote = promote_to_inexact if inexact else promote_args

    def fn(x1, x2, /):
        return op(*promote(name, x1, x2))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} with NumPy broadcasting and promotion."
    return fn


def _unary(name, op, inexact=False):
    promote = promote_to_inexact if inexact else promote_args

    def fn(x, /):
        return op(*promote(name, x))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name}."
    return fn


def _kind(x):
    return core.get_aval(x).dtype


def _const_like(x, value):
    return lax.full(core.get_aval(x).shape, value, _kind(x))


def _true_divide(x, y):
    return lax.div(x, y)


def _floor_divide(x, y):
    dtype = _kind(x)
    if dtypes.is_integer(dtype):
        # C division truncates; NumPy floors: step down where the signs differ and it is inexact
        q = lax.div(x, y)
        if dtypes.is_unsigned(dtype):
            return q
        r = lax.rem(x, y)
        zero = lax.full(core.get_aval(x).shape, 0, dtype)
        fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
        return lax.select(fix, lax.sub(q, lax.full(core.get_aval(x).shape, 1, dtype)), q)
    return lax.floor(lax.div(x, y))


def _remainder(x, y):
    r = lax.rem(x, y)
    dtype = _kind(x)
    if dtypes.is_unsigned(dtype) or dtype == np.bool_:
        return r
    zero = lax.full(core.get_aval(x).shape, 0, dtype)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
    return lax.select(fix, lax.add(r, y), r)


def _power(x, y):
    if dtypes.is_inexact(_kind(x)):
        return lax.pow(x, y)
    # integer power by repeated squaring over the bits of y (y >= 0)
    acc = lax.full(core.get_aval(x).shape, 1, _kind(x))
    base, exp = x, y
    one = lax.full(core.get_aval(y).shape, 1, _kind(y))
    for _ in range(np.iinfo(_kind(y)).bits):
        bit = lax.ne(lax.bitwise_and(exp, one), lax.full(core.get_aval(y).shape, 0, _kind(y)))
        acc = lax.select(bit, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        exp = lax.shift_right_logical(exp, one)
    return acc


def _logical(op):
    def fn(x, y):
        bx = lax.ne(x, lax.full(core.get_aval(x).shape, 0, _kind(x))) if _kind(x) != np.bool_ else x
        by = lax.ne(y, lax.full(core.get_aval(y).shape, 0, _kind(y))) if _kind(y) != np.bool_ else y
        return op(bx, by)
    return fn


add = _binary("add", lambda x, y: lax.bitwise_or(x, y) if _kind(x) == np.bool_ else lax.add(x, y))
subtract = _binary("subtract", lax.sub)
multiply = _binary("multiply", lax.mul)
divide = true_divide = _binary("divide", _true_divide, inexact=True)
floor_divide = _binary("floor_divide", _floor_divide)
remainder = mod = _binary("remainder", _remainder)
fmod = _binary("fmod", lax.rem)
power = _binary("power", _power)
float_power = _binary("float_power", lax.pow, inexact=True)
maximum = _binary("maximum", lax.max)
minimum = _binary("minimum", lax.min)
arctan2 = _binary("arctan2", lax.atan2, inexact=True)
nextafter = _binary("nextafter", lax.nextafter, inexact=True)
equal = _binary("equal", lax.eq)
not_equal = _binary("not_equal", lax.ne)
less = _binary("less", lax.lt)
less_equal = _binary("less_equal", lax.le)
greater = _binary("greater", lax.gt)
greater_equal = _binary("greater_equal", lax.ge)
bitwise_and = _binary("bitwise_and", lax.bitwise_and)
bitwise_or = _binary("bitwise_or", lax.bitwise_or)
bitwise_xor = _binary("bitwise_xor", lax.bitwise_xor)
left_shift = _binary("left_shift", lax.shift_left)
right_shift = _binary("right_shift", lambda x, y: lax.shift_right_logical(x, y)
                      if dtypes.is_unsigned(_kind(x)) else lax.shift_right_arithmetic(x, y))
logical_and = _binary("logical_and", _logical(lax.bitwise_and))
logical_or = _binary("logical_or", _logical(lax.bitwise_or))
logical_xor = _binary("logical_xor", _logical(lax.bitwise_xor))

negative = _unary("negative", lax.neg)
positive = _unary("positive", lambda x: x)
absolute = abs = _unary("absolute",
                        lambda x: x if dtypes.is_unsigned(_kind(x)) or _kind(x) == np.bool_
                        else lax.abs(x))
sign = _unary("sign", lax.sign)
exp = _unary("exp", lax.exp, True)
exp2 = _unary("exp2", lambda x: lax.exp(lax.mul(x, _const_like(x, np.log(2)))), True)
log = _unary("log", lax.log, True)
log2 = _unary("log2", lambda x: lax.div(lax.log(x), _const_like(x, np.log(2))), True)
log10 = _unary("log10", lambda x: lax.div(lax.log(x), _const_like(x, np.log(10))), True)
log1p = _unary("log1p", lax.log1p, True)
expm1 = _unary("expm1", lax.expm1, True)
sqrt = _unary("sqrt", lax.sqrt, True)
cbrt = _unary("cbrt", lax.cbrt, True)
square = _unary("square", lambda x: lax.integer_pow(x, 2))
reciprocal = _unary("reciprocal", lambda x: lax.integer_pow(x, -1))
sin = _unary("sin", lax.sin, True)
cos = _unary("cos", lax.cos, True)
tan = _unary("tan", lax.tan, True)
arcsin = _unary("arcsin", lax.asin, True)
arccos = _unary("arccos", lax.acos, True)
arctan = _unary("arctan", lax.atan, True)
sinh = _unary("sinh", lax.sinh, True)
cosh = _unary("cosh", lax.cosh, True)
tanh = _unary("tanh", lax.tanh, True)
arcsinh = _unary("arcsinh", lax.asinh, True)
arccosh = _unary("arccosh", lax.acosh, True)
arctanh = _unary("arctanh", lax.atanh, True)
floor = _unary("floor", lambda x: x if not dtypes.is_inexact(_kind(x)) else lax.floor(x))
ceil = _unary("ceil", lambda x: x if not dtypes.is_inexact(_kind(x)) else lax.ceil(x))
trunc = _unary("trunc", lambda x: x if not dtypes.is_inexact(_kind(x)) else lax.mul(
    lax.sign(x), lax.floor(lax.abs(x))))
rint = _unary("rint", lambda x: x if not dtypes.is_inexact(_kind(x)) else lax.round(x))
isfinite = _unary("isfinite", lambda x: lax.is_finite(x) if dtypes.is_float(_kind(x)) else
                  lax.full(core.get_aval(x).shape, True, np.bool_))
isnan = _unary("isnan", lambda x: lax.ne(x, x))
isinf = _unary("isinf", lambda x: lax.eq(lax.abs(x), lax.full(core.get_aval(x).shape, np.inf, _kind(
    x))) if dtypes.is_float(_kind(x)) else lax.full(core.get_aval(x).shape, False, np.bool_))


def _signbit(x):
    """The sign bit itself, as NumPy: set for -0.0 and negative NaNs too (a float's bits read as
    a signed integer of its width are negative exactly then)."""
    kind = _kind(x)
    if kind == np.bool_:
        return lax.full(core.get_aval(x).shape, False, np.bool_)
    if dtypes.is_float(kind):
        x, kind = bitcast_convert_type(x, _SIGNED_OF_WIDTH[kind.itemsize]), \
            _SIGNED_OF_WIDTH[kind.itemsize]
    return lax.lt(x, lax.full(core.get_aval(x).shape, 0, kind))


_SIGNED_OF_WIDTH = {2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}
signbit = _unary("signbit", _signbit)
logical_not = _unary("logical_not", lambda x: lax.bitwise_not(x) if _kind(x) == np.bool_ else
                     lax.eq(x, lax.full(core.get_aval(x).shape, 0, _kind(x))))
invert = bitwise_not = _unary("invert", lax.bitwise_not)
real = _unary("real", lambda x: lax.real(x) if dtypes.is_complex(_kind(x)) else x)
imag = _unary("imag", lambda x: lax.imag(x) if dtypes.is_complex(_kind(x)) else
              lax.full(core.get_aval(x).shape, 0, _kind(x)))
conjugate = conj = _unary("conjugate", lambda x: lax.conj(x) if dtypes.is_complex(_kind(x)) else x)


# ---------------------------------------------------------------- composite elementwise
def _logaddexp(x, y):
    # max + log1p(exp(-|x - y|)); where x - y is nan (both infinite, or a nan), x + y gives
    # the right answer (inf, -inf, or nan). At x == y the max splits its tangent in halves.
    big = lax.max(x, y)
    delta = lax.sub(x, y)
    out = lax.add(big, lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
    return lax.select(lax.ne(delta, delta), lax.add(x, y), out)


logaddexp = _binary("logaddexp", _logaddexp, inexact=True)
logaddexp2 = _binary("logaddexp2", lambda x, y: lax.div(
    _logaddexp(lax.mul(x, _const_like(x, np.log(2))), lax.mul(y, _const_like(y, np.log(2)))),
    _const_like(x, np.log(2))), inexact=True)


def _hypot(x, y):
    # scale by the larger magnitude so that squares cannot overflow
    ax, ay = lax.abs(x), lax.abs(y)
    big, small = lax.max(ax, ay), lax.min(ax, ay)
    zero = lax.eq(big, _const_like(big, 0))
    ratio = lax.div(small, lax.select(zero, _const_like(big, 1), big))
    return lax.mul(big, lax.sqrt(lax.add(_const_like(ratio, 1), lax.mul(ratio, ratio))))


hypot = _binary("hypot", _hypot, inexact=True)
deg2rad = radians = _unary("deg2rad", lambda x: lax.mul(x, _const_like(x, np.pi / 180)), True)
rad2deg = degrees = _unary("rad2deg", lambda x: lax.mul(x, _const_like(x, 180 / np.pi)), True)


def _nan_ignoring(op):
    def fn(x, y):
        if not dtypes.is_inexact(_kind(x)):
            return op(x, y)
        return lax.select(lax.ne(x, x), y, lax.select(lax.ne(y, y), x, op(x, y)))
    return fn


fmax = _binary("fmax", _nan_ignoring(lax.max))
fmin = _binary("fmin", _nan_ignoring(lax.min))
copysign = _binary("copysign", lambda x, y: lax.select(
    lax.lt(y, _const_like(y, 0)) if not dtypes.is_float(_kind(y)) else _signbit_float(y),
    lax.neg(lax.abs(x)), lax.abs(x)), inexact=True)


def _signbit_float(y):
    # -0.0 has its sign bit set: 1 / -0.0 is -inf
    return lax.bitwise_or(lax.lt(y, _const_like(y, 0)), lax.lt(
        lax.div(_const_like(y, 1), y), _const_like(y, 0)))


def _round_float(x, decimals):
    if decimals == 0:
        return lax.round(x)
    factor = _const_like(x, 10.0 ** decimals)
    return lax.div(lax.round(lax.mul(x, factor)), factor)


def round(a, decimals=0, out=None):
    """Round half to even to `decimals` places (negative: to tens, hundreds, ...)."""
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.round is not supported")
    (x,) = promote_args("round", a)
    dtype = _kind(x)
    decimals = int(decimals)
    if dtypes.is_complex(dtype):
        return lax.complex_(_round_float(lax.real(x), decimals), _round_float(lax.imag(x),
                                                                             decimals))
    if dtypes.is_inexact(dtype):
        return _round_float(x, decimals)
    if decimals >= 0 or dtype == np.bool_:
        return x
    as_float = lax.convert_element_type(x, dtypes.default_float())
    return lax.convert_element_type(_round_float(as_float, decimals), dtype)


around = round
fix = trunc

# the public functions of this module (not its imports), for `from _ufuncs import *`
__all__ = [_name for _name, _value in list(globals().items())
           if not _name.startswith("_") and callable(_value)
           and getattr(_value, "__module__", None) == __name__]
