"""Elementwise primitives. Operands have one shape and one dtype (spmd.numpy broadcasts and
promotes before it binds); each row of the tables below declares a primitive with its dtype
kinds, its StableHLO op and its JVP, and the rest of its rules follow from its kind."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front, defbroadcasting, defvectorized
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import (Zero, defjvp, defjvp_with_output, defjvp_zero, deflinear,
                                 instantiate, jvp_rules, linear_primitives)
from spmd.transforms.lax.accuracy import accuracy_attr as _accuracy_attr
from spmd.transforms.lax.accuracy import check_accuracy as _check_accuracy
from spmd.transforms.lax.structural import broadcast_in_dim
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.trace_primitives import add_any_p
from spmd.transforms.transpose import deftranspose_linear, is_undefined, transpose_rules

FLOAT, COMPLEX, INT, UINT, BOOL = "float", "complex", "int", "uint", "bool"
INEXACT = (FLOAT, COMPLEX)
NUMBER = (FLOAT, COMPLEX, INT, UINT)
INTEGRAL = (INT, UINT, BOOL)
ANY = (FLOAT, COMPLEX, INT, UINT, BOOL)


def _kind(dtype) -> str:
    if dtype == np.bool_:
        return BOOL
    if dtypes.is_unsigned(dtype):
        return UINT
    if dtypes.is_integer(dtype):
        return INT
    return COMPLEX if dtypes.is_complex(dtype) else FLOAT


def elementwise_aval(name: str, kinds, avals, out_dtype=None) -> ShapedArray:
    """Shape and dtype rule shared by every elementwise primitive."""
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape:
            raise TypeError(f"{name} got operands of different shapes "
                            f"{', '.join(str(x.shape) for x in avals)}; broadcast them first "
                            "(spmd.numpy functions broadcast, spmd.lax ones do not)")
        if a.dtype != first.dtype:
            raise TypeError(f"{name} got operands of different dtypes "
                            f"{', '.join(str(x.dtype) for x in avals)}; convert them first "
                            "(spmd.numpy functions promote, spmd.lax ones do not)")
    if _kind(first.dtype) not in kinds:
        raise TypeError(f"{name} does not accept {first.dtype} operands; it takes "
                        f"{' or '.join(kinds)} types")
    weak = all(a.weak_type for a in avals)
    return ShapedArray(first.shape, first.dtype if out_dtype is None else out_dtype,
                       weak and out_dtype is None)


def _hlo_lowering(op_name: str):
    def lower(ctx, *operands, accuracy=None, **params):
        return ctx.op(op_name, operands, attrs=_accuracy_attr(accuracy))
    return lower


def _declare(name, nargs, kinds, hlo, out_dtype=None, prim=None) -> Primitive:
    """An elementwise primitive's rules (on `prim`, when trace_primitives declared it)."""
    prim = Primitive(name) if prim is None else prim
    prim.def_abstract_eval(lambda *avals, **p: elementwise_aval(name, kinds, avals, out_dtype))
    lowering_rules[prim] = _hlo_lowering(hlo) if isinstance(hlo, str) else hlo
    (defvectorized if nargs == 1 else defbroadcasting)(prim)
    return prim


def _unary(name, kinds, hlo, jvp) -> Primitive:
    """A differentiable unary op; `jvp(t, out, x)` is its tangent."""
    prim = _declare(name, 1, kinds, hlo)
    defjvp_with_output(prim, lambda t, out, x, **params: jvp(t, out, x))
    return prim


def _zero_tangent(name, nargs, kinds, hlo, out_dtype=None) -> Primitive:
    """An op that is piecewise constant (or not differentiable): its tangent is zero."""
    prim = _declare(name, nargs, kinds, hlo, out_dtype)
    defjvp_zero(prim)
    return prim


def _bind(prim):
    def fn(*args):
        return prim.bind(*args)
    fn.__name__ = prim.name
    return fn


# ---------------------------------------------------------------- helpers used by the JVPs
def _full_like(x, value):
    aval = core.get_aval(x)
    return full(aval.shape, value, aval.dtype)


def _real_dtype(dtype):
    return {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(np.dtype(dtype), np.dtype(dtype))


# ---------------------------------------------------------------- unary
neg_p = _declare("neg", 1, NUMBER, "stablehlo.negate")
neg = _bind(neg_p)
deflinear(neg_p)
deftranspose_linear(neg_p, lambda ct, x: neg(ct))

# unary ops with their JVP, jvp(t, out, x)
exp_p = _unary("exp", INEXACT, "stablehlo.exponential", lambda t, out, x: mul(t, out))
log_p = _unary("log", INEXACT, "stablehlo.log", lambda t, out, x: div(t, x))
log1p_p = _unary("log1p", INEXACT, "stablehlo.log_plus_one",
                  lambda t, out, x: div(t, add(x, _full_like(x, 1))))
expm1_p = _unary("expm1", INEXACT, "stablehlo.exponential_minus_one",
                 lambda t, out, x: mul(t, add(out, _full_like(out, 1))))
tanh_p = _unary("tanh", INEXACT, "stablehlo.tanh",
                lambda t, out, x: mul(t, sub(_full_like(out, 1), mul(out, out))))
logistic_p = _unary("logistic", INEXACT, "stablehlo.logistic",
                    lambda t, out, x: mul(t, mul(out, sub(_full_like(out, 1), out))))
sin_p = _unary("sin", INEXACT, "stablehlo.sine", lambda t, out, x: mul(t, cos(x)))
cos_p = _unary("cos", INEXACT, "stablehlo.cosine", lambda t, out, x: neg(mul(t, sin(x))))
tan_p = _unary("tan", INEXACT, "stablehlo.tan",
               lambda t, out, x: mul(t, add(_full_like(out, 1), mul(out, out))))
sqrt_p = _unary("sqrt", INEXACT, "stablehlo.sqrt",
                lambda t, out, x: div(t, mul(_full_like(out, 2), out)))
rsqrt_p = _unary("rsqrt", INEXACT, "stablehlo.rsqrt",
                 lambda t, out, x: mul(t, mul(_full_like(out, -0.5), div(out, x))))
cbrt_p = _unary("cbrt", (FLOAT,), "stablehlo.cbrt",
                lambda t, out, x: mul(t, div(out, mul(_full_like(x, 3), x))))
erf_p = _unary("erf", (FLOAT,), "chlo.erf", lambda t, out, x: mul(
    t, mul(_full_like(x, 2 / np.sqrt(np.pi)), exp(neg(mul(x, x))))))
erf_inv_p = _unary("erf_inv", (FLOAT,), "chlo.erf_inv", lambda t, out, x: mul(
    t, mul(_full_like(x, np.sqrt(np.pi) / 2), exp(mul(out, out)))))
lgamma_p = _unary("lgamma", (FLOAT,), "chlo.lgamma", lambda t, out, x: mul(t, digamma(x)))
digamma_p = _unary("digamma", (FLOAT,), "chlo.digamma",
                   lambda t, out, x: mul(t, polygamma(_full_like(x, 1), x)))
asin_p = _unary("asin", INEXACT, "chlo.asin",
                lambda t, out, x: mul(t, rsqrt(sub(_full_like(x, 1), mul(x, x)))))
acos_p = _unary("acos", INEXACT, "chlo.acos",
                lambda t, out, x: neg(mul(t, rsqrt(sub(_full_like(x, 1), mul(x, x))))))
atan_p = _unary("atan", INEXACT, "chlo.atan",
                lambda t, out, x: div(t, add(_full_like(x, 1), mul(x, x))))
sinh_p = _unary("sinh", INEXACT, "chlo.sinh", lambda t, out, x: mul(t, cosh(x)))
cosh_p = _unary("cosh", INEXACT, "chlo.cosh", lambda t, out, x: mul(t, sinh(x)))
asinh_p = _unary("asinh", INEXACT, "chlo.asinh",
                 lambda t, out, x: mul(t, rsqrt(add(mul(x, x), _full_like(x, 1)))))
acosh_p = _unary("acosh", INEXACT, "chlo.acosh",
                 lambda t, out, x: mul(t, rsqrt(sub(mul(x, x), _full_like(x, 1)))))
atanh_p = _unary("atanh", INEXACT, "chlo.atanh",
                 lambda t, out, x: div(t, sub(_full_like(x, 1), mul(x, x))))


def _bind_with_accuracy(prim):
    """The function of a primitive that takes JAX's `accuracy=` (bound only when given, so
    that programs without it trace as before)."""
    def fn(x, *, accuracy=None):
        if _check_accuracy(accuracy) is None:
            return prim.bind(x)
        return prim.bind(x, accuracy=accuracy)
    fn.__name__ = prim.name
    return fn


exp = _bind_with_accuracy(exp_p)
log = _bind_with_accuracy(log_p)
log1p = _bind_with_accuracy(log1p_p)
expm1 = _bind_with_accuracy(expm1_p)
tanh = _bind_with_accuracy(tanh_p)
logistic = _bind_with_accuracy(logistic_p)
sin = _bind_with_accuracy(sin_p)
cos = _bind_with_accuracy(cos_p)
tan = _bind_with_accuracy(tan_p)
sqrt = _bind_with_accuracy(sqrt_p)
rsqrt = _bind_with_accuracy(rsqrt_p)
cbrt = _bind_with_accuracy(cbrt_p)
erf = _bind(erf_p)
erf_inv = _bind(erf_inv_p)
lgamma = _bind(lgamma_p)
digamma = _bind(digamma_p)
asin = _bind(asin_p)
acos = _bind(acos_p)
atan = _bind(atan_p)
sinh = _bind(sinh_p)
cosh = _bind(cosh_p)
asinh = _bind(asinh_p)
acosh = _bind(acosh_p)
atanh = _bind(atanh_p)

# Piecewise constant (or non-differentiable) unary ops: zero tangent.
sign_p = _zero_tangent("sign", 1, NUMBER, "stablehlo.sign")
floor_p = _zero_tangent("floor", 1, (FLOAT,), "stablehlo.floor")
ceil_p = _zero_tangent("ceil", 1, (FLOAT,), "stablehlo.ceil")
round_p = _zero_tangent("round", 1, (FLOAT,), "stablehlo.round_nearest_even")
round_afz_p = _zero_tangent("round_afz", 1, (FLOAT,), "stablehlo.round_nearest_afz")
not_p = _zero_tangent("not", 1, INTEGRAL, "stablehlo.not")
population_count_p = _zero_tangent("population_count", 1, (INT, UINT), "stablehlo.popcnt")
sign = _bind(sign_p)
floor = _bind(floor_p)
ceil = _bind(ceil_p)
round = _bind(round_p)  # noqa: A001 - lax.round, as in JAX
round_afz = _bind(round_afz_p)
bitwise_not = _bind(not_p)
population_count = _bind(population_count_p)

is_finite_p = _declare("is_finite", 1, (FLOAT,), "stablehlo.is_finite", out_dtype=np.bool_)
defjvp_zero(is_finite_p)
is_finite = _bind(is_finite_p)


def _abs_aval(x):
    out = elementwise_aval("abs", NUMBER, [x])
    return out.update(dtype=_real_dtype(x.dtype))


abs_p = Primitive("abs")
abs_p.def_abstract_eval(_abs_aval)
lowering_rules[abs_p] = _hlo_lowering("stablehlo.abs")
defvectorized(abs_p)


def _abs_jvp(t, out, x):
    # JAX's conventions at the kink: d|x|/dx = 1 at real 0 (x >= 0 takes +t); at complex 0 the
    # tangent is 0, |x| replaced by 1 there so that conj(x) / |x| is 0, not nan
    if not dtypes.is_complex(core.get_aval(x).dtype):
        return select(ge(x, _full_like(x, 0)), t, neg(t))
    out_c = convert_element_type(out, core.get_aval(x).dtype)
    safe = select(eq(out_c, _full_like(out_c, 0)), _full_like(out_c, 1), out_c)
    return real(mul(t, div(conj(x), safe)))


defjvp_with_output(abs_p, _abs_jvp)
_abs = _bind(abs_p)

# complex parts
def _complex_part(name, hlo) -> Primitive:
    prim = Primitive(name)
    prim.def_abstract_eval(lambda x: elementwise_aval(name, (COMPLEX,), [x]).update(
        dtype=_real_dtype(x.dtype)))
    lowering_rules[prim] = _hlo_lowering(hlo)
    defvectorized(prim)
    deflinear(prim)
    return prim


real_p = _complex_part("real", "stablehlo.real")
imag_p = _complex_part("imag", "stablehlo.imag")
real = _bind(real_p)
imag = _bind(imag_p)
deftranspose_linear(real_p, lambda ct, x: complex_(ct, _full_like(ct, 0)))
deftranspose_linear(imag_p, lambda ct, x: complex_(_full_like(ct, 0), neg(ct)))

conj_p = _declare("conj", 1, (COMPLEX,), lambda ctx, x: ctx.op("chlo.conj", [x]))
deflinear(conj_p)
deftranspose_linear(conj_p, lambda ct, x: conj(ct))
conj = _bind(conj_p)


def _complex_aval(x, y):
    out = elementwise_aval("complex", (FLOAT,), [x, y])
    return out.update(dtype=np.complex128 if x.dtype == np.float64 else np.complex64)


complex_p = Primitive("complex")
complex_p.def_abstract_eval(_complex_aval)
lowering_rules[complex_p] = _hlo_lowering("stablehlo.complex")
defbroadcasting(complex_p)
deflinear(complex_p)
transpose_rules[complex_p] = lambda ct, x, y: [real(ct) if is_undefined(x) else None,
                                               neg(imag(ct)) if is_undefined(y) else None]
complex_ = _bind(complex_p)

# ---------------------------------------------------------------- binary arithmetic
add_p = _declare("add", 2, NUMBER, "stablehlo.add")
sub_p = _declare("sub", 2, NUMBER, "stablehlo.subtract")
mul_p = _declare("mul", 2, NUMBER + (BOOL,), lambda ctx, x, y: ctx.op(
    "stablehlo.and" if ctx.in_avals[0].dtype == np.bool_ else "stablehlo.multiply", [x, y]))
div_p = _declare("div", 2, NUMBER, "stablehlo.divide")
rem_p = _declare("rem", 2, NUMBER, "stablehlo.remainder")
pow_p = _declare("pow", 2, INEXACT, "stablehlo.power")
max_p = _declare("max", 2, ANY, "stablehlo.maximum")
min_p = _declare("min", 2, ANY, "stablehlo.minimum")
atan2_p = _declare("atan2", 2, (FLOAT,), "stablehlo.atan2")
nextafter_p = _declare("nextafter", 2, (FLOAT,), "chlo.next_after")
# polygamma(m, x): the m-th derivative of digamma, for integer-valued m
polygamma_p = _declare("polygamma", 2, (FLOAT,), "chlo.polygamma")
_declare("add_any", 2, NUMBER, "stablehlo.add", prim=add_any_p)
add = _bind(add_p)
sub = _bind(sub_p)
mul = _bind(mul_p)
div = _bind(div_p)
rem = _bind(rem_p)
pow = _bind(pow_p)  # noqa: A001 - lax.pow, as in JAX
max = _bind(max_p)  # noqa: A001 - lax.max, as in JAX
min = _bind(min_p)  # noqa: A001 - lax.min, as in JAX
atan2 = _bind(atan2_p)
nextafter = _bind(nextafter_p)
polygamma = _bind(polygamma_p)
add_any = _bind(add_any_p)

deflinear(add_p)
deflinear(add_any_p)
deflinear(sub_p)


transpose_rules[add_p] = lambda ct, x, y: [ct if is_undefined(x) else None,
                                           ct if is_undefined(y) else None]
transpose_rules[add_any_p] = transpose_rules[add_p]
transpose_rules[sub_p] = lambda ct, x, y: [ct if is_undefined(x) else None,
                                           neg(ct) if is_undefined(y) and type(ct) is not Zero
                                           else None]
defjvp(mul_p, lambda t, x, y: mul(t, y), lambda t, x, y: mul(x, t))


def _mul_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    if is_undefined(x) and is_undefined(y):
        raise TypeError("mul of two linear values is not linear: cannot transpose it")
    return [mul(ct, y) if is_undefined(x) else None, mul(x, ct) if is_undefined(y) else None]


transpose_rules[mul_p] = _mul_transpose
linear_primitives.add(mul_p)  # in each operand, the other one known
# -t x / y**2 with y**2 as integer_pow, not y*y: nested derivatives of y*y square the
# denominator at every order (y**64 at the sixth, inf in float32 at y = 4)
defjvp(div_p, lambda t, x, y: div(t, y),
       lambda t, x, y: mul(mul(neg(t), x), integer_pow(y, -2)))
deftranspose_linear(div_p, lambda ct, x, y: div(ct, y))
linear_primitives.add(div_p)  # in the numerator
defjvp(rem_p, lambda t, x, y: t,
       lambda t, x, y: mul(neg(t), _trunc(div(x, y))))


def _trunc(x):
    """x rounded toward zero: sign(x) * floor(|x|)."""
    return mul(sign(x), floor(_abs(x)))


def _pow_jvp_x(t, out, x, y):
    # d/dx x**y = y * x**(y-1); written to be 0 (not nan) at x == 0 when y == 0
    ym1 = sub(y, _full_like(y, 1))
    safe = select(eq(y, _full_like(y, 0)), _full_like(x, 0), mul(y, pow(x, ym1)))
    return mul(t, safe)


def _pow_jvp_y(t, out, x, y):
    # d/dy x**y = log(x) * x**y, taken as 0 where x == 0
    zero = _full_like(x, 0)
    logx = log(select(eq(x, zero), _full_like(x, 1), x))
    return mul(t, mul(out, logx))


defjvp_with_output(pow_p, _pow_jvp_x, _pow_jvp_y)


def _minmax_jvp(pick_first_fn):
    def rule(primals, tangents):
        x, y = primals
        out = pick_first_fn[0].bind(x, y)
        tx, ty = tangents
        if type(tx) is Zero and type(ty) is Zero:
            return out, Zero(core.get_aval(out))
        # JAX's convention: where x == y each side gets half the tangent
        half = _full_like(out, 0.5)
        x_wins = convert_element_type(pick_first_fn[1](x, y), core.get_aval(out).dtype)
        tie = convert_element_type(eq(x, y), core.get_aval(out).dtype)
        wx = add(x_wins, mul(tie, half))
        wy = sub(_full_like(out, 1), wx)
        tx, ty = instantiate(tx, core.get_aval(x)), instantiate(ty, core.get_aval(y))
        return out, add(mul(tx, wx), mul(ty, wy))
    return rule


jvp_rules[max_p] = _minmax_jvp((max_p, lambda x, y: gt(x, y)))
jvp_rules[min_p] = _minmax_jvp((min_p, lambda x, y: lt(x, y)))
defjvp(atan2_p, lambda t, x, y: mul(t, div(y, add(mul(x, x), mul(y, y)))),
       lambda t, x, y: mul(t, div(neg(x), add(mul(x, x), mul(y, y)))))
defjvp_zero(nextafter_p)
defjvp(polygamma_p, None, lambda t, m, x: mul(t, polygamma(add(m, _full_like(m, 1)), x)))

# ---------------------------------------------------------------- bitwise and logical
and_p = _zero_tangent("and", 2, INTEGRAL, "stablehlo.and")
or_p = _zero_tangent("or", 2, INTEGRAL, "stablehlo.or")
xor_p = _zero_tangent("xor", 2, INTEGRAL, "stablehlo.xor")
shift_left_p = _zero_tangent("shift_left", 2, (INT, UINT), "stablehlo.shift_left")
shift_right_arithmetic_p = _zero_tangent("shift_right_arithmetic", 2, (INT, UINT),
                                         "stablehlo.shift_right_arithmetic")
shift_right_logical_p = _zero_tangent("shift_right_logical", 2, (INT, UINT),
                                      "stablehlo.shift_right_logical")
bitwise_and = _bind(and_p)
bitwise_or = _bind(or_p)
bitwise_xor = _bind(xor_p)
shift_left = _bind(shift_left_p)
shift_right_arithmetic = _bind(shift_right_arithmetic_p)
shift_right_logical = _bind(shift_right_logical_p)

# ---------------------------------------------------------------- comparisons
def _compare_lowering(direction, total_order=False):
    """`total_order` compares floats by -nan < -inf < ... < -0 < 0 < ... < inf < nan (the
    order sort uses), as JAX's eq_to/le_to/lt_to do."""
    def lower(ctx, x, y):
        kind = _kind(ctx.in_avals[0].dtype)
        inexact = "TOTALORDER" if total_order else "FLOAT"
        ctype = {FLOAT: inexact, COMPLEX: inexact, INT: "SIGNED", UINT: "UNSIGNED",
                 BOOL: "UNSIGNED"}[kind]
        return ctx.op("stablehlo.compare", [x, y],
                      attrs=f"comparison_direction = #stablehlo<comparison_direction {direction}>, "
                            f"compare_type = #stablehlo<comparison_type {ctype}>")
    return lower


_ORDERED = (FLOAT, INT, UINT, BOOL)
eq_p = _zero_tangent("eq", 2, ANY, _compare_lowering("EQ"), out_dtype=np.bool_)
ne_p = _zero_tangent("ne", 2, ANY, _compare_lowering("NE"), out_dtype=np.bool_)
lt_p = _zero_tangent("lt", 2, _ORDERED, _compare_lowering("LT"), out_dtype=np.bool_)
le_p = _zero_tangent("le", 2, _ORDERED, _compare_lowering("LE"), out_dtype=np.bool_)
gt_p = _zero_tangent("gt", 2, _ORDERED, _compare_lowering("GT"), out_dtype=np.bool_)
ge_p = _zero_tangent("ge", 2, _ORDERED, _compare_lowering("GE"), out_dtype=np.bool_)
# JAX's total-order comparisons: primitives only (sort's comparators bind them), no wrappers.
# XLA orders no complex numbers totally, so eq_to takes real operands only (a type error here,
# where JAX's would fail in XLA's verifier)
eq_to_p = _zero_tangent("eq_to", 2, _ORDERED, _compare_lowering("EQ", True), out_dtype=np.bool_)
le_to_p = _zero_tangent("le_to", 2, _ORDERED, _compare_lowering("LE", True), out_dtype=np.bool_)
lt_to_p = _zero_tangent("lt_to", 2, _ORDERED, _compare_lowering("LT", True), out_dtype=np.bool_)
eq = _bind(eq_p)
ne = _bind(ne_p)
lt = _bind(lt_p)
le = _bind(le_p)
gt = _bind(gt_p)
ge = _bind(ge_p)


# ---------------------------------------------------------------- select
def _select_aval(pred, on_true, on_false):
    if pred.dtype != np.bool_:
        raise TypeError(f"select's predicate must be bool, got {pred.dtype}")
    if pred.shape not in ((), on_true.shape):
        raise TypeError(f"select's predicate shape {pred.shape} must be () or match the cases' "
                        f"shape {on_true.shape}")
    return elementwise_aval("select", ANY, [on_true, on_false])


select_p = Primitive("select")
select_p.def_abstract_eval(_select_aval)
lowering_rules[select_p] = _hlo_lowering("stablehlo.select")


def _select_jvp(primals, tangents):
    pred, x, y = primals
    _, tx, ty = tangents
    out = select(pred, x, y)
    if type(tx) is Zero and type(ty) is Zero:
        return out, Zero(core.get_aval(out))
    return out, select(pred, instantiate(tx, core.get_aval(x)), instantiate(ty, core.get_aval(y)))


jvp_rules[select_p] = _select_jvp


def _select_transpose(ct, pred, x, y):
    if is_undefined(pred):
        raise TypeError("select's predicate cannot be linear")
    if type(ct) is Zero:
        return [None, None, None]
    zeros = _full_like(ct, 0)
    return [None, select(pred, ct, zeros) if is_undefined(x) else None,
            select(pred, zeros, ct) if is_undefined(y) else None]


transpose_rules[select_p] = _select_transpose
linear_primitives.add(select_p)  # in the cases


def _select_batch(axis, args, dims):
    pred, x, y = args
    if dims[0] is None and dims[1] == dims[2] and core.get_aval(pred).ndim == 0:
        return select(pred, x, y), dims[1]  # one scalar predicate for the whole batch
    x, y = bdim_at_front(x, dims[1], axis.size), bdim_at_front(y, dims[2], axis.size)
    pred = bdim_at_front(pred, dims[0], axis.size)
    if core.get_aval(pred).ndim == 1 and core.get_aval(x).ndim > 1:  # one scalar per example
        pred = broadcast_in_dim(pred, core.get_aval(x).shape, (0,))
    return select(pred, x, y), 0


batching_rules[select_p] = _select_batch
select = _bind(select_p)


# ---------------------------------------------------------------- integer_pow
def _integer_pow_lowering(ctx, x, *, y):
    aval = ctx.in_avals[0]
    if y == 0:
        return ctx.constant(np.ones(aval.shape, aval.dtype), aval.strip_weak())
    acc, base, n = None, x, abs(y)
    while n:  # square-and-multiply
        if n & 1:
            acc = base if acc is None else ctx.typed("stablehlo.multiply", [acc, base],
                                                     [aval, aval], aval)
        n >>= 1
        if n:
            base = ctx.typed("stablehlo.multiply", [base, base], [aval, aval], aval)
    if y < 0:
        one = ctx.constant(np.ones(aval.shape, aval.dtype), aval.strip_weak())
        acc = ctx.typed("stablehlo.divide", [one, acc], [aval, aval], aval)
    return acc


integer_pow_p = Primitive("integer_pow")
integer_pow_p.def_abstract_eval(lambda x, *, y: elementwise_aval("integer_pow", NUMBER, [x]))
lowering_rules[integer_pow_p] = _integer_pow_lowering
defvectorized(integer_pow_p)
defjvp(integer_pow_p, lambda t, x, *, y: mul(t, mul(_full_like(x, y), integer_pow(x, y - 1)))
       if y != 0 else Zero(core.get_aval(x)))


def integer_pow(x, y: int):
    return integer_pow_p.bind(x, y=int(y))


# ---------------------------------------------------------------- dtype conversion
def _convert_aval(x, *, new_dtype, weak_type):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_lowering(ctx, x, *, new_dtype, weak_type):
    src, dst = ctx.in_avals[0].dtype, np.dtype(new_dtype)
    if src == dst:
        return x
    if dtypes.is_complex(src) and not dtypes.is_complex(dst):
        x = ctx.typed("stablehlo.real", [x], [ctx.in_avals[0]],
                      ctx.in_avals[0].update(dtype=_real_dtype(src)))
        src = _real_dtype(src)
        if src == dst:
            return x
        in_aval = ctx.in_avals[0].update(dtype=src)
    else:
        in_aval = ctx.in_avals[0]
    if dst == np.bool_ and src != np.bool_:
        zero = ctx.constant(np.zeros(in_aval.shape, src), in_aval.strip_weak())
        return ctx.typed("stablehlo.compare", [x, zero], [in_aval, in_aval], ctx.out_avals[0],
                         attrs="comparison_direction = #stablehlo<comparison_direction NE>")
    return ctx.typed("stablehlo.convert", [x], [in_aval], ctx.out_avals[0])


convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.def_abstract_eval(_convert_aval)
lowering_rules[convert_element_type_p] = _convert_lowering
defvectorized(convert_element_type_p)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or not dtypes.is_inexact(new_dtype) or not dtypes.is_inexact(
            core.get_aval(x).dtype):
        return out, Zero(core.get_aval(out))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


jvp_rules[convert_element_type_p] = _convert_jvp
linear_primitives.add(convert_element_type_p)  # between inexact types
deftranspose_linear(convert_element_type_p, lambda ct, x, *, new_dtype, weak_type:
                    convert_element_type_p.bind(ct, new_dtype=x.aval.dtype,
                                                weak_type=x.aval.weak_type))


def convert_element_type(x, new_dtype, weak_type: bool = False):
    new_dtype = dtypes.canonicalize(new_dtype)
    aval = core.get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type and not isinstance(
            x, (int, float, bool, complex)):
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


def full(shape, value, dtype, weak_type: bool = False):
    """An array of `shape` filled with `value` (a scalar or 0-d array)."""
    dtype = dtypes.canonicalize(dtype)
    if core.is_concrete(value) and not hasattr(value, "aval"):
        value = np.asarray(value, dtype=dtype)
        if np.shape(value) != ():
            raise TypeError(f"full's fill value must be a scalar, got shape {np.shape(value)}")
        scalar = value[()]  # a NumPy scalar: traced programs write it as a literal
    else:
        scalar = convert_element_type(value, dtype, weak_type)
    return broadcast_in_dim(scalar, tuple(shape), ())
