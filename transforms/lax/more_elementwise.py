"""The rest of JAX's elementwise lax operations, declared with elementwise.py's tables: square,
exp2, erfc, clz, mulhi, bessel_i1e, zeta and reduce_precision, plus the lax functions JAX
builds from primitives (reciprocal)."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.jvp import defjvp, deflinear
from spmd.transforms.lax.composite import lower_fun
from spmd.transforms.lax.elementwise import (FLOAT, INEXACT, INT, NUMBER, UINT, _bind, _declare,
                                             _abs, _full_like, _unary, _zero_tangent, add,
                                             convert_element_type, div, exp, integer_pow, lt, mul,
                                             neg, rsqrt, select, sign)
from spmd.transforms.transpose import deftranspose_linear

square_p = _unary("square", NUMBER, lambda ctx, x: ctx.op(
    "stablehlo.multiply", [x, x], operand_avals=ctx.in_avals * 2),
    lambda t, out, x: mul(t, mul(_full_like(x, 2), x)))
square = _bind(square_p)

_LOG2 = float(np.log(2.0))
exp2_p = _unary("exp2", INEXACT, lower_fun(lambda x: exp(mul(x, _full_like(x, _LOG2)))),
                lambda t, out, x: mul(t, mul(out, _full_like(x, _LOG2))))
exp2 = _bind(exp2_p)

erfc_p = _unary("erfc", (FLOAT,), "chlo.erfc", lambda t, out, x: mul(t, mul(
    _full_like(x, -2 / np.sqrt(np.pi)), exp(neg(mul(x, x))))))
erfc = _bind(erfc_p)


def _bessel_i1e_jvp(t, out, x):
    # d/dx i1e = i0e - i1e (sign(x) + 1/x); at x = 0 (and below eps, where 1/x loses it) 1/2
    tiny = lt(_abs(x), _full_like(x, float(dtypes.finfo(core.get_aval(x).dtype).eps)))
    safe = select(tiny, _full_like(x, 1), x)
    slope = add(bessel_i0e(safe), neg(mul(out, add(sign(safe), div(_full_like(x, 1), safe)))))
    return mul(t, select(tiny, _full_like(x, 0.5), slope))


# i0e(x) = exp(-|x|) I0(x) = (1/pi) int_0^pi exp(|x| (cos t - 1)) dt. The integrand is smooth
# and periodic, so the trapezoidal rule on N panels converges geometrically: its error is of the
# order of I_2N(|x|) e^-|x|, below float64's rounding for |x| <= 200 at N = 64. Beyond, the
# asymptotic series 1/sqrt(2 pi |x|) (1 + 1/(8|x|) + 9/(2 (8|x|)^2) + ...) is as exact.
_PANELS = 64
_NODES = np.cos(np.arange(_PANELS + 1) * np.pi / _PANELS) - 1.0
_WEIGHTS = np.r_[0.5, np.ones(_PANELS - 1), 0.5] / _PANELS
_ASYMPTOTIC = [1.0, 1 / 8, 9 / 128, 225 / 3072, 11025 / 98304]  # ((2k-1)!!)^2 / (k! 8^k)
_SWITCH = 200.0


def _bessel_i0e_impl(x):
    wide = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    a = _abs(convert_element_type(x, wide))
    near = _full_like(a, 0.0)
    for node, weight in zip(_NODES, _WEIGHTS):
        near = add(near, mul(_full_like(a, weight), exp(mul(a, _full_like(a, node)))))
    far_a = select(lt(a, _full_like(a, _SWITCH)), _full_like(a, _SWITCH), a)
    inv = div(_full_like(a, 1.0), far_a)
    series = _full_like(a, _ASYMPTOTIC[-1])
    for coeff in reversed(_ASYMPTOTIC[:-1]):
        series = add(_full_like(a, coeff), mul(series, inv))
    far = mul(series, rsqrt(mul(far_a, _full_like(a, 2 * np.pi))))
    return convert_element_type(select(lt(a, _full_like(a, _SWITCH)), near, far), x.dtype)


bessel_i0e_p = _unary("bessel_i0e", (FLOAT,), lower_fun(_bessel_i0e_impl),
                      lambda t, out, x: mul(t, add(bessel_i1e(x), neg(mul(sign(x), out)))))
bessel_i0e = _bind(bessel_i0e_p)


bessel_i1e_p = _unary("bessel_i1e", (FLOAT,), "chlo.bessel_i1e", _bessel_i1e_jvp)
bessel_i1e = _bind(bessel_i1e_p)

clz_p = _zero_tangent("clz", 1, (INT, UINT), "stablehlo.count_leading_zeros")
clz = _bind(clz_p)
mulhi_p = _zero_tangent("mulhi", 2, (INT, UINT), "chlo.mulhi")
mulhi = _bind(mulhi_p)

# zeta(x, q), Hurwitz's: sum over k >= 0 of (k + q)^-x; differentiable in q only, as in JAX
zeta_p = _declare("zeta", 2, (FLOAT,), "chlo.zeta")
zeta = _bind(zeta_p)
defjvp(zeta_p, None, lambda t, x, q: mul(t, neg(mul(x, zeta(add(x, _full_like(x, 1)), q)))))


def _reduce_precision_lowering(ctx, x, *, exponent_bits, mantissa_bits):
    return ctx.op("stablehlo.reduce_precision", [x], attrs=(
        f"exponent_bits = {exponent_bits} : i32, mantissa_bits = {mantissa_bits} : i32"))


# rounding to fewer exponent and mantissa bits, as a (rounding-)linear op in JAX
reduce_precision_p = _declare("reduce_precision", 1, (FLOAT,), _reduce_precision_lowering)
deflinear(reduce_precision_p)
deftranspose_linear(reduce_precision_p, lambda ct, x, **bits: reduce_precision_p.bind(ct, **bits))


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """Round `operand` as a float with this many exponent and mantissa bits would hold it."""
    exponent_bits, mantissa_bits = int(exponent_bits), int(mantissa_bits)
    if exponent_bits < 1 or mantissa_bits < 0:
        raise ValueError(f"reduce_precision needs at least 1 exponent bit and 0 mantissa bits, "
                         f"got exponent_bits={exponent_bits}, mantissa_bits={mantissa_bits}")
    return reduce_precision_p.bind(operand, exponent_bits=exponent_bits,
                                   mantissa_bits=mantissa_bits)


def reciprocal(x):
    """1 / x, as JAX writes it: integer_pow(x, -1)."""
    return integer_pow(x, -1)
