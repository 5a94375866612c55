"""The table of lax operations that the lax tests run: one `Case` per operation and parameter
choice, used by test_lax_values (NumPy), test_lax_jit (eager), test_lax_grad (finite
differences, transposes) and test_lax_vmap (the loop). Adding a primitive adds its tests here,
in one line.

A case names its arguments: `Operand`s take the dtype under test, `Index`es are integer
arrays (start indices, sort keys), `Pred`s are booleans, and `Fixed` values (NaNs, ties, exact
halves) are cast to the dtype under test. Only Operands are differentiated.
"""
from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Callable

import ml_dtypes
import numpy as np
import pytest
import scipy.special

from spmd.transforms import dtypes, lax
from tests.transforms import conv_reference

SHAPE = (2, 3)  # elementwise operands: one shape, so every table row reuses its programs

DTYPES = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16),
          "bfloat16": dtypes.bfloat16, "int32": np.dtype(np.int32), "bool": np.dtype(np.bool_),
          "complex64": np.dtype(np.complex64), "float64": np.dtype(np.float64),
          "complex128": np.dtype(np.complex128)}
F = ("float32",)
LOW = ("float16", "bfloat16")  # where the op computes (not just moves data): a representative set
I, B, C = ("int32",), ("bool",), ("complex64",)
ALL = F + I + B
NUM = F + I


# ---------------------------------------------------------------- argument kinds
@dataclasses.dataclass(frozen=True)
class Operand:
    """An array of the dtype under test: floats uniform in [lo, hi), ints in [ints), bools fair;
    `zeros` entries set to exactly 0 (reduce_prod's and cumprod's gradients at zeros)."""
    shape: tuple
    lo: float = -2.0
    hi: float = 2.0
    ints: tuple = (-5, 6)
    zeros: int = 0

    def draw(self, rng, dtype):
        if dtype == np.bool_:
            x = rng.random(self.shape) < 0.5
        elif dtypes.is_integer(dtype):
            x = rng.integers(*self.ints, size=self.shape)
        else:
            x = rng.uniform(self.lo, self.hi, self.shape)
            if dtypes.is_complex(dtype):
                x = x + 1j * rng.uniform(self.lo, self.hi, self.shape)
        x = np.asarray(x).astype(dtype)
        if self.zeros:
            x.reshape(-1)[rng.choice(x.size, self.zeros, replace=False)] = 0
        return x


@dataclasses.dataclass(frozen=True)
class Index:
    """Integers in [lo, hi) of a fixed dtype (start indices, sort keys); never differentiated."""
    shape: tuple = ()
    lo: int = -6
    hi: int = 6

    def draw(self, rng, dtype):
        return np.asarray(rng.integers(self.lo, self.hi, size=self.shape), np.int32)


@dataclasses.dataclass(frozen=True)
class Pred:
    shape: tuple = SHAPE

    def draw(self, rng, dtype):
        return np.asarray(rng.random(self.shape) < 0.5)


@dataclasses.dataclass(frozen=True)
class Fixed:
    """Chosen values (NaN, ties, halves) cast to the dtype under test."""
    values: tuple

    def draw(self, rng, dtype):
        return np.asarray(self.values, np.float64).astype(dtype)

    @property
    def shape(self):
        return np.shape(self.values)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable                 # the lax-level function of the arguments
    oracle: Callable             # NumPy's answer, from the arguments (floats given in float64)
    args: tuple
    dtypes: tuple                # the dtypes its Operands are tested in
    out_dtype: Callable = None   # dtype under test -> output dtype (or tuple); default: same
    grad_order: int = 2          # 0: not differentiable (or not meaningfully)
    linear: tuple = ()           # groups of argument positions in which fn is jointly linear
    vmap: bool = True
    vmap_configs: tuple = ("leading", "first_at_last_axis", "first_unmapped")

    def __str__(self):
        return self.name

    def draw(self, dtype, seed=0):
        rng = np.random.default_rng([zlib.crc32(self.name.encode()), seed])
        return [a.draw(rng, dtype) for a in self.args]

    def expected(self, args, dtype):
        out = self.oracle(*[_wide(a) for a in args])
        want = (self.out_dtype or (lambda d: d))(dtype)
        if isinstance(out, tuple):
            wants = want if isinstance(want, tuple) else (want,) * len(out)
            return tuple(np.asarray(o).astype(w) for o, w in zip(out, wants))
        return np.asarray(out).astype(want)

    @property
    def differentiable(self):
        return self.grad_order > 0 and "float32" in self.dtypes and any(
            isinstance(a, Operand) for a in self.args)


def _wide(x):
    """Float inputs as float64 (complex as complex128): the oracle's precision."""
    x = np.asarray(x)
    if dtypes.is_complex(x.dtype):
        return x.astype(np.complex128)
    return x.astype(np.float64) if dtypes.is_float(x.dtype) else x


def real_dtype(d):
    return np.dtype(np.float64 if d == np.complex128 else np.float32) if dtypes.is_complex(d) else d


def complex_dtype(d):
    return np.dtype(np.complex128 if d == np.float64 else np.complex64)


# ---------------------------------------------------------------- table helpers
def unary(name, fn, oracle, dtypes_=F, lo=-2.0, hi=2.0, **kw):
    """One elementwise operand: its batch axis passes through, so one vmap layout is enough."""
    return Case(name, fn, oracle, (Operand(SHAPE, lo, hi),), dtypes_,
                vmap_configs=("first_at_last_axis",), **kw)


def binary(name, fn, oracle, dtypes_=F, x=Operand(SHAPE), y=Operand(SHAPE), **kw):
    return Case(name, fn, oracle, (x, y), dtypes_, **kw)


def _to_bool(d):
    return np.dtype(np.bool_)


def _to_int32(d):
    return np.dtype(np.int32)


def np_total_order(compare):
    """`compare` under IEEE total order (-nan < -inf < ... < -0 < 0 < ... < inf < nan), on
    integer keys: a float's bits with the magnitude bits flipped for negatives."""
    def key(v):
        v = np.asarray(v)
        if not np.issubdtype(v.dtype, np.floating):
            return v
        bits = v.astype(np.float64).view(np.int64)
        return bits ^ ((bits >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))
    return lambda x, y: compare(key(x), key(y))


_TOTAL_X = Fixed((-0.0, 0.0, np.nan, -np.inf, 1.0, np.inf, np.nan, 2.0))
_TOTAL_Y = Fixed((0.0, -0.0, np.nan, np.nan, 1.0, -np.inf, 1.0, 2.5))


# ---------------------------------------------------------------- NumPy references
def np_trunc_div(x, y):
    if x.dtype.kind in "iu":
        return np.sign(x) * np.sign(y) * (np.abs(x) // np.abs(y))
    return x / y


def np_shift_right_logical(x, y):
    return (x.astype(np.int64).astype(np.uint32) >> y.astype(np.uint32)).astype(np.int32)


def np_dynamic_starts(shape, starts, sizes):
    """Wrap negative starts once (as JAX), then clamp the slice into bounds (as XLA)."""
    out = []
    for s, n, k in zip(starts, shape, sizes):
        s = int(s) + n if int(s) < 0 else int(s)
        out.append(min(max(s, 0), n - k))
    return out


def np_dynamic_slice(x, starts, sizes):
    starts = np_dynamic_starts(x.shape, starts, sizes)
    return x[tuple(slice(s, s + k) for s, k in zip(starts, sizes))]


def np_dynamic_update_slice(x, update, starts):
    starts = np_dynamic_starts(x.shape, starts, update.shape)
    out = x.copy()
    out[tuple(slice(s, s + k) for s, k in zip(starts, update.shape))] = update
    return out


def np_pad(x, value, config):
    """lax.pad: interior padding and positive edges on a larger array, then crop negative edges."""
    grown = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * i
             for (lo, hi, i), n in zip(config, x.shape)]
    out = np.full(grown, value, x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + max(n - 1, 0) * (i + 1) + 1, i + 1)
              for (lo, _, i), n in zip(config, x.shape))] = x
    return out[tuple(slice(-min(lo, 0), g + min(hi, 0)) for (lo, hi, _), g in zip(config, grown))]


def np_cumulative(ufunc, axis, reverse=False, exclusive=False, identity=0):
    def f(x):
        y = np.flip(x, axis) if reverse else x
        if exclusive:
            first = np.full_like(np.take(y, [0], axis), identity)
            y = np.concatenate([first, np.delete(y, -1, axis)], axis)
        with np.errstate(invalid="ignore"):  # inf - inf inside logaddexp: NaN, as expected
            y = ufunc.accumulate(y, axis=axis)
        return np.flip(y, axis) if reverse else y
    return f


def np_sort_by(keys, operands, axis):
    """Stable lexicographic sort by `keys` (NaN last, as NumPy), carrying `operands`."""
    order = np.lexsort(tuple(reversed(keys)), axis=axis)
    return tuple(np.take_along_axis(o, order, axis) for o in operands)


def np_top_k(x, k):
    def row(r):  # largest first, NaN largest, ties by index
        order = sorted(range(len(r)), key=lambda i: (not np.isnan(r[i]),
                                                     -r[i] if not np.isnan(r[i]) else 0, i))
        return order[:k]
    flat = x.reshape(-1, x.shape[-1])
    idx = np.array([row(r) for r in flat]).reshape(x.shape[:-1] + (k,))
    return np.take_along_axis(x, idx, -1), idx


def np_dot_general(dims, spec):
    return lambda x, y: np.einsum(spec, x, y)


def _lowest(x):
    """max's identity in x's dtype: the init value of a max window."""
    d = np.dtype(x.dtype)
    return -np.inf if dtypes.is_inexact(d) else (False if d == np.bool_ else np.iinfo(d).min)


def _highest(x):
    d = np.dtype(x.dtype)
    return np.inf if dtypes.is_inexact(d) else np.iinfo(d).max


# ---------------------------------------------------------------- the table
_sp = scipy.special
CASES = [
    # ---- elementwise, one operand
    unary("neg", lax.neg, np.negative, F + I + C + LOW, linear=((0,),)),
    unary("exp", lax.exp, np.exp, F + C + LOW),
    unary("log", lax.log, np.log, F + C + LOW, lo=0.1, hi=3.0),
    unary("log1p", lax.log1p, np.log1p, lo=-0.5),
    unary("expm1", lax.expm1, np.expm1),
    unary("tanh", lax.tanh, np.tanh, F + LOW),
    unary("logistic", lax.logistic, _sp.expit, F + LOW),
    unary("sin", lax.sin, np.sin, F + C + LOW),
    unary("cos", lax.cos, np.cos),
    unary("tan", lax.tan, np.tan, lo=-1.2, hi=1.2),
    unary("sqrt", lax.sqrt, np.sqrt, F + C + LOW, lo=0.1, hi=3.0),
    unary("rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x), lo=0.1, hi=3.0),
    unary("cbrt", lax.cbrt, np.cbrt, lo=0.3, hi=3.0),
    unary("erf", lax.erf, _sp.erf, F + LOW),
    unary("erf_inv", lax.erf_inv, _sp.erfinv, lo=-0.9, hi=0.9),
    unary("lgamma", lax.lgamma, _sp.gammaln, lo=0.5, hi=4.0),
    unary("digamma", lax.digamma, _sp.digamma, lo=0.5, hi=4.0),
    Case("polygamma", lax.polygamma, _sp.polygamma,
         (Fixed(((0, 1, 2), (1, 2, 3))), Operand(SHAPE, 0.5, 3)), F),
    unary("asin", lax.asin, np.arcsin, lo=-0.9, hi=0.9),
    unary("acos", lax.acos, np.arccos, lo=-0.9, hi=0.9),
    unary("atan", lax.atan, np.arctan),
    unary("sinh", lax.sinh, np.sinh),
    unary("cosh", lax.cosh, np.cosh),
    unary("asinh", lax.asinh, np.arcsinh),
    unary("acosh", lax.acosh, np.arccosh, lo=1.2, hi=3.0),
    unary("atanh", lax.atanh, np.arctanh, lo=-0.9, hi=0.9),
    unary("sign", lax.sign, np.sign, F + I),
    unary("floor", lax.floor, np.floor, F + LOW),
    unary("ceil", lax.ceil, np.ceil),
    Case("round_half_even", lax.round, np.round, (Fixed((-2.5, -1.5, -0.5, 0.5, 1.5, 2.7)),),
         F + LOW,
         grad_order=0),
    Case("round_half_away", lax.round_afz, lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
         (Fixed((-2.5, -1.5, -0.5, 0.5, 1.5, 2.7)),), F, grad_order=0),
    Case("is_finite", lax.is_finite, np.isfinite, (Fixed(((0, np.inf, -np.inf), (np.nan, 1, -2))),),
         F, out_dtype=_to_bool, grad_order=0),
    unary("bitwise_not", lax.bitwise_not, np.invert, I + B),
    unary("population_count", lax.population_count,
          lambda x: np.bitwise_count(x.view(np.uint32)), I),
    unary("abs", lax.abs, np.abs, F + I + C + LOW, out_dtype=real_dtype),
    unary("real", lax.real, np.real, C, out_dtype=real_dtype, linear=((0,),)),
    unary("imag", lax.imag, np.imag, C, out_dtype=real_dtype, linear=((0,),)),
    unary("conj", lax.conj, np.conj, C, linear=((0,),)),
    unary("integer_pow_3", lambda x: lax.integer_pow(x, 3), lambda x: x ** 3, NUM + LOW),
    unary("integer_pow_neg2", lambda x: lax.integer_pow(x, -2), lambda x: x ** -2.0, lo=0.5),
    unary("convert_to_int32", lambda x: lax.convert_element_type(x, np.int32),
          lambda x: np.trunc(x), F, out_dtype=_to_int32, lo=-5, hi=5),
    unary("convert_to_float32", lambda x: lax.convert_element_type(x, np.float32),
          lambda x: x, I + B, out_dtype=lambda d: np.dtype(np.float32)),
    Case("convert_to_bool", lambda x: lax.convert_element_type(x, np.bool_), lambda x: x != 0,
         (Fixed(((0, 1.5, -2), (0, 0, 3))),), ("float32", "int32"), out_dtype=_to_bool,
         grad_order=0),
    unary("convert_to_complex", lambda x: lax.convert_element_type(x, complex_dtype(x.dtype)),
          lambda x: x + 0j, ("float32",), out_dtype=complex_dtype, linear=((0,),), grad_order=0),
    # ---- elementwise, two operands
    binary("add", lax.add, np.add, F + I + C + LOW, linear=((0, 1),)),
    binary("add_any", lax.add_any, np.add, NUM, linear=((0, 1),)),
    binary("sub", lax.sub, np.subtract, F + I + C, linear=((0, 1),)),
    binary("mul", lax.mul, np.multiply, ALL + C + LOW, linear=((0,), (1,))),
    binary("div", lax.div, np_trunc_div, NUM + LOW, y=Operand(SHAPE, 0.5, 2.0, ints=(1, 5)),
           linear=((0,),)),
    binary("rem", lax.rem, np.fmod, NUM, x=Operand(SHAPE, -3, 3, ints=(-9, 10)),
           y=Operand(SHAPE, 0.7, 2.0, ints=(1, 5))),
    binary("pow", lax.pow, np.power, F, x=Operand(SHAPE, 0.5, 2.0)),
    binary("max", lax.max, np.maximum, ALL + LOW),
    binary("min", lax.min, np.minimum, ALL),
    binary("atan2", lax.atan2, np.arctan2),
    binary("nextafter", lax.nextafter, np.nextafter, ("float32", "float16"), grad_order=0),
    binary("bitwise_and", lax.bitwise_and, np.bitwise_and, I + B),
    binary("bitwise_or", lax.bitwise_or, np.bitwise_or, I + B),
    binary("bitwise_xor", lax.bitwise_xor, np.bitwise_xor, I + B),
    binary("shift_left", lax.shift_left, np.left_shift, I, x=Operand(SHAPE, ints=(-50, 50)),
           y=Operand(SHAPE, ints=(0, 31))),
    binary("shift_right_arithmetic", lax.shift_right_arithmetic, np.right_shift, I,
           x=Operand(SHAPE, ints=(-50, 50)), y=Operand(SHAPE, ints=(0, 31))),
    binary("shift_right_logical", lax.shift_right_logical, np_shift_right_logical, I,
           x=Operand(SHAPE, ints=(-50, 50)), y=Operand(SHAPE, ints=(0, 31))),
    *[binary(name, getattr(lax, name), ufunc, ALL, x=Operand(SHAPE, ints=(0, 3)),
             y=Operand(SHAPE, ints=(0, 3)), out_dtype=_to_bool, grad_order=0)
      for name, ufunc in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                          ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]],
    *[case for name, ufunc in [("eq_to", np.equal), ("le_to", np.less_equal), ("lt_to", np.less)]
      for case in (
          binary(name, getattr(lax, name + "_p").bind, np_total_order(ufunc), F,
                 x=_TOTAL_X, y=_TOTAL_Y, out_dtype=_to_bool, grad_order=0),
          binary(name + "_integral", getattr(lax, name + "_p").bind, np_total_order(ufunc),
                 I + B, x=Operand(SHAPE, ints=(0, 3)), y=Operand(SHAPE, ints=(0, 3)),
                 out_dtype=_to_bool, grad_order=0))],
    Case("select", lax.select, np.where, (Pred(), Operand(SHAPE), Operand(SHAPE)), ALL + C + LOW,
         linear=((1, 2),)),
    Case("select_scalar_pred", lax.select, np.where, (Pred(()), Operand(SHAPE), Operand(SHAPE)),
         F + I, linear=((1, 2),)),
    Case("clamp", lax.clamp, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
         (Operand((), -1.0, -0.5, ints=(-3, -1)), Operand(SHAPE),
          Operand((), 0.5, 1.0, ints=(1, 3))),
         NUM),
    # ---- shapes
    Case("broadcast_in_dim", lambda x: lax.broadcast_in_dim(x, (2, 3), (1,)),
         lambda x: np.broadcast_to(x, (2, 3)), (Operand((3,)),), ALL, linear=((0,),)),
    Case("broadcast_in_dim_ones", lambda x: lax.broadcast_in_dim(x, (3, 4, 2), (0, 1)),
         lambda x: np.broadcast_to(x[:, :, None], (3, 4, 2)), (Operand((3, 1)),), F,
         linear=((0,),)),
    Case("broadcast", lambda x: lax.broadcast(x, (4,)),
         lambda x: np.broadcast_to(x, (4,) + x.shape),
         (Operand(SHAPE),), F + I, linear=((0,),)),
    Case("reshape", lambda x: lax.reshape(x, (3, 2)), lambda x: x.reshape(3, 2), (Operand(SHAPE),),
         ALL, linear=((0,),)),
    Case("transpose", lambda x: lax.transpose(x, (2, 0, 1)), lambda x: x.transpose(2, 0, 1),
         (Operand((2, 3, 4)),), ALL, linear=((0,),)),
    Case("squeeze", lambda x: lax.squeeze(x, (0, 2)), lambda x: x.reshape(3), (Operand((1, 3, 1)),),
         F + I, linear=((0,),)),
    Case("expand_dims", lambda x: lax.expand_dims(x, (0, -1)), lambda x: x[None, :, :, None],
         (Operand(SHAPE),), F + I, linear=((0,),)),
    Case("iota", lambda: lax.iota(np.int32, 5), lambda: np.arange(5), (), I, out_dtype=_to_int32,
         vmap=False),
    Case("broadcasted_iota", lambda: lax.broadcasted_iota(np.float32, (2, 3), 1),
         lambda: np.broadcast_to(np.arange(3.0), (2, 3)), (), ("float32",),
         out_dtype=lambda d: np.dtype(np.float32), vmap=False),
    # ---- reductions
    Case("reduce_sum", lambda x: lax.reduce_sum(x, (0, 2)), lambda x: x.sum((0, 2)),
         (Operand((2, 3, 4)),), F + I + C + LOW, linear=((0,),)),
    Case("reduce_sum_all", lax.reduce_sum, np.sum, (Operand(SHAPE),), F, linear=((0,),)),
    Case("reduce_max", lambda x: lax.reduce_max(x, 1), lambda x: x.max(1), (Operand((2, 3, 4)),),
         ALL + LOW),
    Case("reduce_min", lambda x: lax.reduce_min(x, (0,)), lambda x: x.min(0), (Operand((2, 3, 4)),),
         ALL),
    # reduce_prod's JVP runs exclusive cumprods over the reduced elements: shapes shared with
    # the cumulative rows below keep the compiled programs few
    Case("reduce_prod", lambda x: lax.reduce_prod(x, 1), lambda x: x.prod(1),
         (Operand((2, 5), -1.5, 1.5, ints=(-3, 4)),), NUM + LOW),
    Case("reduce_prod_one_zero", lambda x: lax.reduce_prod(x, 0), lambda x: x.prod(0),
         (Operand((5, 2), -1.5, 1.5, zeros=1),), F),
    Case("reduce_prod_two_zeros", lax.reduce_prod, np.prod,
         (Operand((5,), -1.5, 1.5, zeros=2),), F),
    Case("reduce_and", lambda x: lax.reduce_and(x, 1), lambda x: np.bitwise_and.reduce(x, 1),
         (Operand((2, 3, 4)),), I + B),
    Case("reduce_or", lambda x: lax.reduce_or(x, (0, 2)), lambda x: np.bitwise_or.reduce(
        np.bitwise_or.reduce(x, 2), 0), (Operand((2, 3, 4)),), I + B),
    # ---- dot
    binary("dot_matmul", lax.dot, np.dot, NUM + LOW, x=Operand((3, 4)), y=Operand((4, 2)),
           linear=((0,), (1,))),
    binary("dot_vector", lax.dot, np.dot, F, x=Operand((4,)), y=Operand((4,)), linear=((0,), (1,))),
    binary("dot_general_batch", lambda x, y: lax.dot_general(x, y, (((2,), (1,)), ((0,), (0,)))),
           lambda x, y: np.einsum("bij,bjk->bik", x, y), NUM, x=Operand((2, 3, 4)),
           y=Operand((2, 4, 5)), linear=((0,), (1,))),
    binary("dot_general_two_contractions",
           lambda x, y: lax.dot_general(x, y, (((1, 2), (1, 0)), ((), ()))),
           lambda x, y: np.einsum("aij,jik->ak", x, y), F, x=Operand((2, 3, 4)),
           y=Operand((4, 3, 5)), linear=((0,), (1,))),
    binary("dot_general_batch_not_leading",
           lambda x, y: lax.dot_general(x, y, (((0,), (2,)), ((2,), (0,)))),
           lambda x, y: np.einsum("jib,bkj->bik", x, y), F, x=Operand((4, 3, 2)),
           y=Operand((2, 5, 4)), linear=((0,), (1,))),
    binary("dot_general_outer", lambda x, y: lax.dot_general(x, y, (((), ()), ((), ()))),
           np.multiply.outer, F, x=Operand((2,)), y=Operand((3,)), linear=((0,), (1,))),
    # ---- convolutions: the four batching layouts of conv_general_dilated (plain, feature
    # groups, batch groups) and every padding form, against the definition (conv_reference.py)
    binary("conv_2d", lambda x, w: lax.conv_general_dilated(x, w, (2, 1), "SAME", (1, 2), (2, 1)),
           lambda x, w: conv_reference.conv(x, w, (2, 1), ((1, 1), (0, 1)), (1, 2), (2, 1)),
           F + I + C + LOW, x=Operand((2, 3, 5, 4), -1, 1, ints=(-3, 4)),
           y=Operand((4, 3, 2, 2), -1, 1, ints=(-3, 4)), linear=((0,), (1,))),
    binary("conv_1d_batch_groups",
           lambda x, w: lax.conv_general_dilated(x, w, (2,), "VALID", rhs_dilation=(2,),
                                                 dimension_numbers=("NWC", "WIO", "NCW"),
                                                 batch_group_count=2),
           lambda x, w: conv_reference.conv(x, w, (2,), ((0, 0),), None, (2,),
                                            ((0, 2, 1), (2, 1, 0), (0, 1, 2)),
                                            batch_group_count=2),
           F, x=Operand((4, 5, 3)), y=Operand((2, 3, 6)), linear=((0,), (1,))),
    binary("conv_2d_feature_groups",
           lambda x, w: lax.conv_general_dilated(x, w, (1, 2), ((1, -1), (2, 0)),
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                                 feature_group_count=2),
           lambda x, w: conv_reference.conv(x, w, (1, 2), ((1, -1), (2, 0)),
                                            specs=((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2)),
                                            feature_group_count=2),
           F, x=Operand((2, 5, 4, 4)), y=Operand((3, 2, 2, 6)), linear=((0,), (1,))),
    binary("conv_3d", lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1, 2), "VALID", dimension_numbers=lax.ConvDimensionNumbers(
            (0, 1, 2, 3, 4), (0, 1, 2, 3, 4), (0, 4, 1, 2, 3))),
           lambda x, w: conv_reference.conv(x, w, (1, 1, 2), ((0, 0),) * 3,
                                            specs=((0, 1, 2, 3, 4), (0, 1, 2, 3, 4),
                                                   (0, 4, 1, 2, 3))),
           F, x=Operand((1, 2, 3, 4, 3)), y=Operand((2, 2, 2, 2, 1)), linear=((0,), (1,))),
    # ---- window reductions (pooling)
    Case("reduce_window_max", lambda x: lax.reduce_window(x, _lowest(x), lax.max, (2, 3), (1, 2),
                                                          "SAME"),
         lambda x: conv_reference.reduce_window(x, _lowest(x), np.maximum, (2, 3), (1, 2),
                                                ((0, 1), (1, 1))),
         (Operand((4, 5)),), ALL + LOW),
    Case("reduce_window_min", lambda x: lax.reduce_window(x, _highest(x), lax.min, (1, 2, 2),
                                                          (1, 1, 2), ((0, 0), (1, 0), (0, 1))),
         lambda x: conv_reference.reduce_window(x, _highest(x), np.minimum, (1, 2, 2), (1, 1, 2),
                                                ((0, 0), (1, 0), (0, 1))),
         (Operand((2, 3, 4)),), NUM),
    Case("reduce_window_sum_dilated",
         lambda x: lax.reduce_window(x, 0, lax.add, (2, 3), (1, 2), ((0, 1), (1, 2)), (1, 2),
                                     (2, 1)),
         lambda x: conv_reference.reduce_window(x, 0, np.add, (2, 3), (1, 2), ((0, 1), (1, 2)),
                                                (1, 2), (2, 1)),
         (Operand((3, 7)),), NUM + C + LOW, linear=((0,),)),
    Case("reduce_window_product", lambda x: lax.reduce_window(x, 1, lax.mul, (2, 2), (1, 1),
                                                              "VALID"),
         lambda x: conv_reference.reduce_window(x, 1, np.multiply, (2, 2), (1, 1),
                                                ((0, 0), (0, 0))),
         (Operand((3, 4), ints=(-2, 3)),), NUM, grad_order=0),
    # ---- slicing
    Case("slice", lambda x: lax.slice(x, (1, 0), (4, 5), (2, 2)), lambda x: x[1:4:2, 0:5:2],
         (Operand((4, 5)),), ALL + C + LOW, linear=((0,),)),
    Case("slice_unit_strides", lambda x: lax.slice(x, (0, 1), (3, 4)), lambda x: x[0:3, 1:4],
         (Operand((4, 5)),), F, linear=((0,),)),
    Case("slice_in_dim", lambda x: lax.slice_in_dim(x, -3, None, 1, 1), lambda x: x[:, -3:],
         (Operand((4, 5)),), F + I, linear=((0,),)),
    Case("index_in_dim", lambda x: lax.index_in_dim(x, -1, 0, False), lambda x: x[-1],
         (Operand((4, 5)),), F + I, linear=((0,),)),
    Case("dynamic_slice", lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
         lambda x, i, j: np_dynamic_slice(x, (i, j), (2, 3)), (Operand((4, 5)), Index(), Index()),
         ALL + C + LOW, linear=((0,),)),
    Case("dynamic_slice_in_dim", lambda x, i: lax.dynamic_slice_in_dim(x, i, 2, 1),
         lambda x, i: np_dynamic_slice(x, (0, i), (4, 2)), (Operand((4, 5)), Index()), F + I,
         linear=((0,),)),
    Case("dynamic_index_in_dim", lambda x, i: lax.dynamic_index_in_dim(x, i, 0, False),
         lambda x, i: np_dynamic_slice(x, (i, 0), (1, 5))[0], (Operand((4, 5)), Index()), F,
         linear=((0,),)),
    Case("dynamic_update_slice", lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)),
         lambda x, u, i, j: np_dynamic_update_slice(x, u, (i, j)),
         (Operand((4, 5)), Operand((2, 3)), Index(), Index()), ALL + LOW, linear=((0, 1),)),
    Case("dynamic_update_slice_in_dim",
         lambda x, u, i: lax.dynamic_update_slice_in_dim(x, u, i, 1),
         lambda x, u, i: np_dynamic_update_slice(x, u, (0, i)),
         (Operand((4, 5)), Operand((4, 2)), Index()), F + I, linear=((0, 1),)),
    Case("dynamic_update_index_in_dim",
         lambda x, u, i: lax.dynamic_update_index_in_dim(x, u, i, 0),
         lambda x, u, i: np_dynamic_update_slice(x, u[None], (i, 0)),
         (Operand((4, 5)), Operand((5,)), Index()), F, linear=((0, 1),)),
    Case("concatenate", lambda a, b, c: lax.concatenate([a, b, c], 1),
         lambda a, b, c: np.concatenate([a, b, c], 1),
         (Operand((2, 3)), Operand((2, 2)), Operand((2, 1))), ALL + LOW, linear=((0, 1, 2),)),
    Case("pad", lambda x, v: lax.pad(x, v, ((1, -1, 1), (0, 2, 0))),
         lambda x, v: np_pad(x, v, ((1, -1, 1), (0, 2, 0))), (Operand((3, 4)), Operand(())),
         ALL + LOW, linear=((0, 1),)),
    Case("pad_negative_interior", lambda x, v: lax.pad(x, v, ((-1, 2, 0), (2, -3, 2))),
         lambda x, v: np_pad(x, v, ((-1, 2, 0), (2, -3, 2))), (Operand((3, 4)), Operand(())),
         F + I, linear=((0, 1),)),
    Case("rev", lambda x: lax.rev(x, (0, 1)), lambda x: x[::-1, ::-1], (Operand((3, 4)),),
         ALL + LOW,
         linear=((0,),)),
    Case("rev_middle", lambda x: lax.rev(x, (1,)), lambda x: x[:, ::-1], (Operand((2, 3, 4)),), F,
         linear=((0,),)),
    # ---- cumulative: lengths 5 and 4 take the odd and even paths of the scan; the nonlinear ones
    # are differentiated through that scan, so their differentiated rows share these small shapes
    # and the long rows check values only
    Case("cumsum", lambda x: lax.cumsum(x, 1), np_cumulative(np.add, 1), (Operand((3, 7)),),
         NUM + LOW, linear=((0,),)),
    Case("cumsum_reverse", lambda x: lax.cumsum(x, 0, reverse=True),
         np_cumulative(np.add, 0, reverse=True), (Operand((8, 2)),), F + I, linear=((0,),)),
    Case("cumsum_exclusive", lambda x: lax.cumsum(x, 1, exclusive=True),
         np_cumulative(np.add, 1, exclusive=True), (Operand((3, 7)),), F, linear=((0,),)),
    Case("cumprod", lambda x: lax.cumprod(x, -1), np_cumulative(np.multiply, 1),
         (Operand((2, 5), 0.5, 1.5, ints=(-2, 3)),), NUM),
    Case("cumprod_reverse_zeros", lambda x: lax.cumprod(x, 0, reverse=True),
         np_cumulative(np.multiply, 0, reverse=True), (Operand((4, 2), -1.5, 1.5, zeros=3),), F),
    Case("cumprod_exclusive", lambda x: lax.cumprod(x, 1, exclusive=True),
         np_cumulative(np.multiply, 1, exclusive=True, identity=1),
         (Operand((2, 5), -1.5, 1.5, zeros=2),), F),
    Case("cumprod_exclusive_reverse", lambda x: lax.cumprod(x, 0, reverse=True, exclusive=True),
         np_cumulative(np.multiply, 0, reverse=True, exclusive=True, identity=1),
         (Operand((4, 2), 0.5, 1.5),), F),
    Case("cumprod_long", lambda x: lax.cumprod(x, 0, reverse=True),
         np_cumulative(np.multiply, 0, reverse=True), (Operand((13, 2), 0.8, 1.2, ints=(1, 2)),),
         NUM, grad_order=0),
    Case("cummax", lambda x: lax.cummax(x, 1), np_cumulative(np.maximum, 1), (Operand((2, 5)),),
         NUM + LOW),
    Case("cummin_reverse", lambda x: lax.cummin(x, 0, reverse=True),
         np_cumulative(np.minimum, 0, reverse=True), (Operand((4, 2)),), NUM),
    Case("cummax_long", lambda x: lax.cummax(x, 1), np_cumulative(np.maximum, 1),
         (Operand((2, 12)),), NUM, grad_order=0),
    Case("cummax_nan", lambda x: lax.cummax(x, 0), np_cumulative(np.maximum, 0),
         (Fixed((1, np.nan, 3, -np.inf, 2)),), F, grad_order=0),
    Case("cumlogsumexp", lambda x: lax.cumlogsumexp(x, 1), np_cumulative(np.logaddexp, 1),
         (Operand((2, 5)),), F + LOW),
    Case("cumlogsumexp_long", lambda x: lax.cumlogsumexp(x, 0), np_cumulative(np.logaddexp, 0),
         (Operand((11, 2)),), F, grad_order=0),
    Case("cumlogsumexp_inf", lambda x: lax.cumlogsumexp(x, 0, reverse=True),
         np_cumulative(np.logaddexp, 0, reverse=True),
         (Fixed((-np.inf, -np.inf, 1.0, np.inf, -np.inf, np.nan)),), F, grad_order=0),
    # ---- sorting
    Case("sort", lax.sort, lambda x: np.sort(x, -1, kind="stable"), (Operand((3, 5)),), ALL + LOW),
    Case("sort_dim0", lambda x: lax.sort(x, 0), lambda x: np.sort(x, 0, kind="stable"),
         (Operand((4, 3)),), F),
    Case("sort_nan_signed_zero", lax.sort, lambda x: np.sort(x, kind="stable"),
         (Fixed((3, np.nan, -0.0, 0.0, -np.inf, 1, np.nan, -1)),), F + LOW, grad_order=0),
    Case("sort_complex", lax.sort, lambda x: np.sort(x, kind="stable"), (Operand((6,)),), C,
         grad_order=0),
    Case("sort_two_keys", lambda k, x, v: lax.sort((k, x, v), 1, num_keys=2),
         lambda k, x, v: np_sort_by((k, x), (k, x, v), 1),
         (Index((3, 6), 0, 2), Operand((3, 6)), Operand((3, 6))), F,
         out_dtype=lambda d: (np.dtype(np.int32), d, d)),
    Case("sort_key_val", lambda k, v: lax.sort_key_val(k, v),
         lambda k, v: np_sort_by((k,), (k, v), -1), (Index((3, 6), 0, 3), Operand((3, 6))), NUM,
         out_dtype=lambda d: (np.dtype(np.int32), d)),
    Case("argsort", lambda x: lax.argsort(x), lambda x: np.argsort(x, -1, kind="stable"),
         (Operand((3, 5), ints=(0, 3)),), NUM, out_dtype=_to_int32, grad_order=0),
    Case("top_k", lambda x: lax.top_k(x, 3), lambda x: np_top_k(x, 3), (Operand((3, 6)),),
         NUM + LOW,
         out_dtype=lambda d: (d, np.dtype(np.int32))),
    Case("top_k_nan_ties", lambda x: lax.top_k(x, 4), lambda x: np_top_k(x, 4),
         (Fixed((1, np.nan, 5, 1, 5, -np.inf, np.nan)),), F,
         out_dtype=lambda d: (d, np.dtype(np.int32)), grad_order=0),
    # ---- argmax / argmin
    Case("argmax", lambda x: lax.argmax(x, 1, np.int32), lambda x: np.argmax(x, 1),
         (Operand((3, 4, 2), ints=(0, 3)),), ALL + LOW, out_dtype=_to_int32, grad_order=0),
    Case("argmin", lambda x: lax.argmin(x, 0, np.int32), lambda x: np.argmin(x, 0),
         (Operand((3, 4), ints=(0, 3)),), ALL + LOW, out_dtype=_to_int32, grad_order=0),
    Case("argmax_nan_ties", lambda x: lax.argmax(x, -1, np.int32), lambda x: np.argmax(x, -1),
         (Fixed(((1, 5, 5, 2), (np.nan, 1, np.nan, 9), (-np.inf,) * 4)),), F + LOW,
         out_dtype=_to_int32, grad_order=0),
    Case("argmin_nan_ties", lambda x: lax.argmin(x, -1, np.int32), lambda x: np.argmin(x, -1),
         (Fixed(((3, 1, 1, 2), (2, np.nan, 1, np.nan), (np.inf,) * 4)),), F,
         out_dtype=_to_int32, grad_order=0),
]


# ---- JAX's remaining elementwise ops (transforms/lax/more_elementwise.py); NumPy or closed forms
def _np_bessel_i1e(x):
    terms = [(x / 2) ** (2 * k + 1) / (math.factorial(k) * math.factorial(k + 1))
             for k in range(30)]  # I1's series: exact to float64 for |x| <= 2
    return np.sum(terms, axis=0) * np.exp(-np.abs(x))


def _np_hurwitz_zeta(s, q):
    """sum_k (k + q)^-s: 200 terms and the Euler-Maclaurin tail from n = q + 200."""
    n = q + 200
    head = np.sum([(k + q) ** -s for k in range(200)], axis=0)
    return head + n ** (1 - s) / (s - 1) + n ** -s / 2 + s * n ** (-s - 1) / 12


def _np_clz32(x):
    return np.array([32 - int(v).bit_length() for v in x.view(np.uint32).ravel()]).reshape(x.shape)


CASES += [
    unary("square", lax.square, np.square, F + I + C + LOW),
    unary("exp2", lax.exp2, np.exp2, F + C + LOW),
    unary("erfc", lax.erfc, np.vectorize(math.erfc), F + LOW),
    unary("reciprocal", lax.reciprocal, np.reciprocal, F + C, lo=0.5, hi=2.0),
    unary("bessel_i0e", lax.bessel_i0e, lambda x: np.i0(x) * np.exp(-np.abs(x)), F + LOW),
    unary("bessel_i1e", lax.bessel_i1e, _np_bessel_i1e, F + LOW),
    Case("zeta", lax.zeta, _np_hurwitz_zeta,
         (Fixed(((2, 3, 4.5), (2.5, 3, 6))), Operand(SHAPE, 0.5, 2.0)), F),
    Case("clz", lax.clz, _np_clz32, (Fixed(((0, 1, -1), (255, 2 ** 20, 7))),), I,
         grad_order=0),
    binary("mulhi", lax.mulhi, lambda x, y: (x.astype(np.int64) * y) >> 32, I,
           x=Operand(SHAPE, ints=(-2 ** 31, 2 ** 31 - 1)),
           y=Operand(SHAPE, ints=(-2 ** 31, 2 ** 31 - 1)), grad_order=0),
    unary("reduce_precision_bf16", lambda x: lax.reduce_precision(x, 8, 7),
          lambda x: x.astype(ml_dtypes.bfloat16).astype(np.float64), F, grad_order=0),
]

def cases(where=lambda c: True):
    return [pytest.param(c, id=c.name) for c in CASES if where(c)]


def case_dtypes(where=lambda c, d: True):
    """(case, dtype) pairs for every dtype a case is tested in."""
    return [pytest.param(c, d, id=f"{c.name}-{d}") for c in CASES for d in c.dtypes if where(c, d)]
