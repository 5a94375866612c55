"""Rows of the spmd.numpy table (numpy_cases.py) for the functions of issue 13's part 3: the
rest of jax.numpy's elementwise functions and array manipulation, each against NumPy."""
import dataclasses

import numpy as np

import spmd.numpy as jnp
from tests.spmd.numpy_cases import ALL, B, F, I, NUM, S2, S3, V, Ints, X, c, move, same

FINITE = np.array([[0.0, 1.5, -3.0], [np.inf, -np.inf, np.nan]])
MASK5 = np.array([True, False, True, True, False])


def _np_put(x, ind, v, mode):
    out = np.array(x)
    np.put(out, ind, v, mode=mode)
    return out


def _np_place(x, mask, vals):
    out = np.array(x)
    np.place(out, mask, vals)
    return out


def _np_fill_diagonal(x, val, wrap=False):
    out = np.array(x)
    np.fill_diagonal(out, val, wrap=wrap)
    return out


def _np_put_along_axis(x, idx, v, axis):
    out = np.array(x)
    np.put_along_axis(out, idx, v, axis)
    return out


CASES = [
    # elementwise: the array API's names, then NumPy's functions JAX adds
    same("acos", X(S2, -0.9, 0.9), dtypes=F),
    same("atan2", X(S2), X(V), dtypes=F),
    same("pow", X(S2, 0.5, 2.0), X(V), dtypes=F),
    c("bitwise_left_shift", jnp.bitwise_left_shift, np.left_shift, X(S2), Ints(V, 0, 3),
      dtypes=I),
    same("bitwise_invert", X(S2), dtypes=I + B),
    same("bitwise_count", X(S2), dtypes=I + B),
    same("fabs", X(S2), dtypes=NUM),
    same("divmod", X(S2), Ints(V, 1, 4), dtypes=I, grad=False),
    same("modf", X(S2, -4.0, 4.0), dtypes=F),
    c("ldexp", jnp.ldexp, np.ldexp, X(S2), Ints(V, -3, 4), dtypes=F),
    same("frexp", X(S3, -100.0, 100.0), dtypes=F, grad=False),
    c("frexp[special values]", lambda x: jnp.frexp(x * FINITE), lambda x: np.frexp(x * FINITE),
      X((1, 1), 1.0, 2.0), dtypes=F, grad=False),
    c("gcd", jnp.gcd, np.gcd, X(S2), Ints(V, -9, 10), dtypes=I),
    c("lcm", jnp.lcm, np.lcm, X(S2), Ints(V, -9, 10), dtypes=I),
    c("heaviside", lambda x: jnp.heaviside(x, 0.5), lambda x: np.heaviside(x, 0.5), X(S2),
      dtypes=F + I, grad=False),
    same("sinc", X(S2), dtypes=F),
    c("sinc[at 0]", lambda x: jnp.sinc(x * 0), lambda x: np.sinc(x * 0), X(V), dtypes=F),
    same("i0", X(S2, -3.0, 3.0), dtypes=F),
    same("spacing", X(S2, 0.5, 100.0), dtypes=F, grad=False),
    c("isposinf", lambda x: (jnp.isposinf(x * FINITE), jnp.isneginf(x * FINITE)),
      lambda x: (np.isposinf(x * FINITE), np.isneginf(x * FINITE)), X((1, 1), 1.0, 2.0),
      dtypes=F, grad=False),
    c("iscomplex", lambda x: (jnp.iscomplex(x + 1j * (x > 0)), jnp.isreal(x + 1j * (x > 0))),
      lambda x: (np.iscomplex(x + 1j * (x > 0)), np.isreal(x + 1j * (x > 0))), X(S2),
      dtypes=F, grad=False, wide=False, check_dtype=False),
    c("nan_to_num", lambda x: jnp.nan_to_num(x * FINITE, posinf=9.0, neginf=-7.0),
      lambda x: np.nan_to_num(x * FINITE, posinf=9.0, neginf=-7.0), X((1, 1), 1.0, 2.0), dtypes=F,
      grad=False),
    c("angle", lambda x, y: jnp.angle(x + 1j * y, deg=True),
      lambda x, y: np.angle(x + 1j * y, deg=True), X(S2), X(S2), dtypes=F, check_dtype=False),
    same("angle", X(S2), dtypes=F, grad=False),
    # array manipulation
    move("unstack", lambda x: jnp.unstack(x, axis=1), lambda x: tuple(np.moveaxis(x, 1, 0)),
         X(S3)),
    move("block", lambda a, b, d: jnp.block([[a, b], [d]]),
         lambda a, b, d: np.block([[a, b], [d]]), X((2, 3)), X((2, 1)), X((1, 4))),
    move("dsplit", lambda x: jnp.dsplit(x, [1, 3]), lambda x: tuple(np.dsplit(x, [1, 3])),
         X(S3)),
    move("delete", lambda x: jnp.delete(x, [0, -1], axis=2),
         lambda x: np.delete(x, [0, -1], axis=2), X(S3)),
    move("delete[mask,flat]", lambda x: jnp.delete(x, np.arange(12) % 5 == 0),
         lambda x: np.delete(x, np.arange(12) % 5 == 0), X(S2)),
    move("insert", lambda x, v: jnp.insert(x, [0, 2, 2], v, axis=1),
         lambda x, v: np.insert(x, [0, 2, 2], v, axis=1), X(S2), X((3, 3))),
    move("insert[one index]", lambda x, v: jnp.insert(x, -1, v, axis=0),
         lambda x, v: np.insert(x, -1, v, axis=0), X(S2), X(V)),
    move("resize", lambda x: jnp.resize(x, (3, 5)), lambda x: np.resize(x, (3, 5)), X((2, 3))),
    move("rollaxis", lambda x: jnp.rollaxis(x, 2, 1), lambda x: np.rollaxis(x, 2, 1), X(S3)),
    c("trim_zeros", lambda x: jnp.trim_zeros(x * (np.arange(6) % 5 != 0), "b"),
      lambda x: np.trim_zeros(x * (np.arange(6) % 5 != 0), "b"), X((6,), 1.0, 2.0),
      dtypes=F + I, traceable=False),
    c("ediff1d", lambda x: jnp.ediff1d(x, to_end=[7], to_begin=[-1, -2]),
      lambda x: np.ediff1d(x, to_end=[7], to_begin=[-1, -2]), X(S2), dtypes=NUM),
    c("apply_along_axis", lambda x: jnp.apply_along_axis(lambda v: v * v.sum(), 1, x),
      lambda x: np.apply_along_axis(lambda v: v * v.sum(), 1, x), X(S3), dtypes=F),
    c("apply_over_axes", lambda x: jnp.apply_over_axes(jnp.sum, x, [0, 2]),
      lambda x: np.apply_over_axes(np.sum, x, [0, 2]), X(S3), dtypes=NUM),
    c("choose", lambda i, a, b: jnp.choose(i, [a, b], mode="clip"),
      lambda i, a, b: np.choose(i, [a, b], mode="clip"), Ints(S2, -1, 3), X(S2), X(V),
      dtypes=ALL),
    c("compress", lambda x: jnp.compress([True, False, True], x, axis=1),
      lambda x: np.compress([True, False, True], x, axis=1), X(S3), dtypes=ALL),
    c("compress[traced,size]", lambda x: jnp.compress(x[0] > 0, x, axis=1, size=4),
      lambda x: np.pad(np.compress(x[0] > 0, x, axis=1),
                       ((0, 0), (0, 4 - (x[0] > 0).sum()))), X(S2), dtypes=F),
    c("extract", lambda x: jnp.extract(MASK5, x), lambda x: np.extract(MASK5, x), X((5,)),
      dtypes=ALL),
    c("put", lambda x, v: jnp.put(x, [0, 7, 13], v, mode="clip", inplace=False),
      lambda x, v: _np_put(x, [0, 7, 13], v, "clip"), X(S2), X((2,)), dtypes=ALL),
    c("place", lambda x, v: jnp.place(x, MASK5, v, inplace=False),
      lambda x, v: _np_place(x, MASK5, v), X((5,)), X((2,)), dtypes=ALL),
    c("fill_diagonal", lambda x, v: jnp.fill_diagonal(x, v, inplace=False),
      lambda x, v: _np_fill_diagonal(x, v), X((3, 4)), X((2,)), dtypes=ALL),
    c("fill_diagonal[wrap,tall]", lambda x: jnp.fill_diagonal(x, 9, wrap=True, inplace=False),
      lambda x: _np_fill_diagonal(x, 9, wrap=True), X((7, 3)), dtypes=NUM),
    c("put_along_axis", lambda x, i, v: jnp.put_along_axis(x, i, v, 1, inplace=False),
      lambda x, i, v: _np_put_along_axis(x, i, v, 1), X(S3), Ints((2, 3, 1), 0, 3),
      X((2, 3, 1)), dtypes=ALL),
    # index helpers (static shapes: NumPy's answers as int arrays)
    c("diag_indices_from", lambda x: jnp.diag_indices_from(x), lambda x: np.diag_indices_from(x),
      X((3, 3, 3)), dtypes=F, grad=False, check_dtype=False),
    c("tril_indices", lambda x: x[jnp.tril_indices(3, -1, 4)],
      lambda x: x[np.tril_indices(3, -1, 4)], X(S2), dtypes=F),
    c("triu_indices_from", lambda x: x[jnp.triu_indices_from(x, 1)],
      lambda x: x[np.triu_indices_from(x, 1)], X(S2), dtypes=F),
    c("mask_indices", lambda x: x[jnp.mask_indices(3, np.triu, 1)],
      lambda x: x[np.mask_indices(3, np.triu, 1)], X((3, 3)), dtypes=F),
    c("ix_", lambda x: x[jnp.ix_(np.array([2, 0]), np.array([1, 3, 3]))],
      lambda x: x[np.ix_(np.array([2, 0]), np.array([1, 3, 3]))], X(S2), dtypes=F),
    c("ravel_multi_index", lambda x, i, j: x + jnp.ravel_multi_index((i, j), (3, 4), mode="wrap"),
      lambda x, i, j: x + np.ravel_multi_index((i, j), (3, 4), mode="wrap"), X(V),
      Ints(V, -5, 9), Ints(V, -5, 9), dtypes=F, grad=False),
    c("unravel_index", lambda x, i: tuple(x + k for k in jnp.unravel_index(i, (3, 4))),
      lambda x, i: tuple(x + k for k in np.unravel_index(i, (3, 4))), X(S2), Ints(S2, 0, 12),
      dtypes=F, grad=False),
    c("mgrid", lambda x: x + jnp.mgrid[0:3, 1:9:2], lambda x: x + np.mgrid[0:3, 1:9:2],
      X((2, 3, 4)), dtypes=F),
    c("ogrid", lambda x: x * jnp.ogrid[0:1:3j, 0:4][0], lambda x: x * np.ogrid[0:1:3j, 0:4][0],
      X((3, 4)), dtypes=F),
    c("r_", lambda x: jnp.r_[x, 0:2, 7.0], lambda x: np.r_[x, 0:2, 7.0], X(V), dtypes=F),
    c("c_", lambda x, y: jnp.c_[x, y], lambda x, y: np.c_[x, y], X(V), X(V), dtypes=F),
    # statistics
    c("quantile", lambda x: jnp.quantile(x, np.array([0.0, 0.3, 1.0]), axis=1),
      lambda x: np.quantile(x, [0.0, 0.3, 1.0], axis=1), X(S3), dtypes=F),
    *[c(f"quantile[{m}]", lambda x, m=m: jnp.quantile(x, 0.4, axis=(0, 2), method=m,
                                                      keepdims=True),
        lambda x, m=m: np.quantile(x, 0.4, axis=(0, 2), method=m, keepdims=True), X(S3),
        dtypes=F, wide=False) for m in ("lower", "higher", "midpoint", "nearest")],
    c("percentile", lambda x: jnp.percentile(x, 75), lambda x: np.percentile(x, 75), X(S2),
      dtypes=NUM),
    c("median", lambda x: jnp.median(x, axis=-1), lambda x: np.median(x, axis=-1), X(S3),
      dtypes=NUM),
    c("nanmedian", lambda x: jnp.nanmedian(jnp.where(x > 1, np.nan, x), axis=0),
      lambda x: np.nanmedian(np.where(x > 1, np.nan, x), axis=0), X(S2), dtypes=F),
    c("nanquantile", lambda x: jnp.nanquantile(jnp.where(x > 1, np.nan, x), 0.25, axis=1),
      lambda x: np.nanquantile(np.where(x > 1, np.nan, x), 0.25, axis=1), X(S2), dtypes=F),
    c("nanpercentile", lambda x: jnp.nanpercentile(jnp.where(x > 1, np.nan, x), [10, 90]),
      lambda x: np.nanpercentile(np.where(x > 1, np.nan, x), [10, 90]), X(S2), dtypes=F),
    c("nanvar", lambda x: jnp.nanvar(jnp.where(x > 1, np.nan, x), axis=1, ddof=1),
      lambda x: np.nanvar(np.where(x > 1, np.nan, x), axis=1, ddof=1), X(S2), dtypes=F),
    c("nanstd", lambda x: jnp.nanstd(jnp.where(x > 1, np.nan, x), keepdims=True),
      lambda x: np.nanstd(np.where(x > 1, np.nan, x), keepdims=True), X(S2), dtypes=F),
    c("nanargmax", lambda x: (jnp.nanargmax(jnp.where(x > 1, np.nan, x), axis=1),
                              jnp.nanargmin(jnp.where(x > 1, np.nan, x), axis=0)),
      lambda x: (np.nanargmax(np.where(x > 1, np.nan, x), axis=1),
                 np.nanargmin(np.where(x > 1, np.nan, x), axis=0)), X(S2, -2.0, 1.5),
      dtypes=F, grad=False, check_dtype=False),
    c("nanargmax[all nan]", lambda x: jnp.nanargmax(x * np.nan, axis=0),
      lambda x: np.full(4, -1), X(S2), dtypes=F, grad=False, check_dtype=False),
    c("nancumsum", lambda x: jnp.nancumsum(jnp.where(x > 1, np.nan, x), axis=1),
      lambda x: np.nancumsum(np.where(x > 1, np.nan, x), axis=1), X(S2), dtypes=F),
    c("nancumprod", lambda x: jnp.nancumprod(jnp.where(x > 1, np.nan, x)),
      lambda x: np.nancumprod(np.where(x > 1, np.nan, x)), X(V), dtypes=F),
    same("cov", X(S2), dtypes=F),
    c("cov[y,columns,ddof]", lambda x, y: jnp.cov(x, y, rowvar=False, ddof=2),
      lambda x, y: np.cov(x, y, rowvar=False, ddof=2), X((5, 2)), X((5, 1)), dtypes=F),
    same("corrcoef", X(S2), dtypes=F),
    c("searchsorted", lambda a, v: jnp.searchsorted(jnp.sort(a), v),
      lambda a, v: np.searchsorted(np.sort(a), v), X((6,)), X(S2), dtypes=NUM, grad=False),
    c("searchsorted[right,sorter]", lambda a, v: jnp.searchsorted(a, v, "right", np.argsort(a)),
      lambda a, v: np.searchsorted(a, v, "right", np.argsort(a)), X((6,)), X(V), dtypes=NUM,
      grad=False, traceable=False),
    c("digitize", lambda x: (jnp.digitize(x, np.array([-1.0, 0.0, 1.5])),
                             jnp.digitize(x, np.array([1.5, 0.0, -1.0]), right=True)),
      lambda x: (np.digitize(x, [-1.0, 0.0, 1.5]), np.digitize(x, [1.5, 0.0, -1.0], right=True)),
      X(S2), dtypes=F, grad=False, check_dtype=False),
    c("bincount", lambda i, w: jnp.bincount(i, w, length=7), lambda i, w: np.bincount(i, w, 7),
      Ints((9,), 0, 7), X((9,)), dtypes=F),
    c("bincount[concrete]", lambda i: jnp.bincount(i, minlength=3), np.bincount, Ints((9,), 0, 5),
      dtypes=F, traceable=False, check_dtype=False),
    c("histogram", lambda x: jnp.histogram(x, bins=4, range=(-1.5, 1.5)),
      lambda x: np.histogram(x, bins=4, range=(-1.5, 1.5)), X(S3), dtypes=F, grad=False,
      check_dtype=False),
    c("histogram[density,edges]", lambda x: jnp.histogram(x, np.array([-2.0, 0.0, 0.5, 2.0]),
                                                          density=True),
      lambda x: np.histogram(x, np.array([-2.0, 0.0, 0.5, 2.0]), density=True), X(S3),
      dtypes=F, grad=False),
    c("histogram_bin_edges", lambda x: jnp.histogram_bin_edges(x, 5),
      lambda x: np.histogram_bin_edges(x, 5), X(S2), dtypes=F, grad=False, traceable=False),
    # sets, creation, products, calculus on samples, sorting
    c("isin", lambda x, t: (jnp.isin(x, t), jnp.isin(x, t, invert=True)),
      lambda x, t: (np.isin(x, t), np.isin(x, t, invert=True)), X(S2), X((5,)), dtypes=I + B,
      grad=False),
    c("set ops", lambda x, y: (jnp.intersect1d(x, y), jnp.union1d(x, y), jnp.setdiff1d(x, y),
                               jnp.setxor1d(x, y)),
      lambda x, y: (np.intersect1d(x, y), np.union1d(x, y), np.setdiff1d(x, y),
                    np.setxor1d(x, y)), X(S2), X((6,)), dtypes=I, traceable=False),
    c("unique_all", lambda x: tuple(jnp.unique_all(x)),
      lambda x: tuple(np.unique_all(x)), X(S2), dtypes=I, traceable=False, check_dtype=False),
    c("logspace", lambda x: x * jnp.logspace(0.0, 2.0, 4, base=3.0),
      lambda x: x * np.logspace(0.0, 2.0, 4, base=3.0), X(V), dtypes=F),
    c("geomspace", lambda x: x * jnp.geomspace(-2.0, -250.0, 4),
      lambda x: x * np.geomspace(-2.0, -250.0, 4), X(V), dtypes=F),
    c("fromfunction", lambda x: x + jnp.fromfunction(lambda i, j: i - 2 * j, (3, 4)),
      lambda x: x + np.fromfunction(lambda i, j: i - 2 * j, (3, 4)), X(S2), dtypes=F),
    same("cross", X((2, 3)), X((2, 3)), dtypes=NUM),
    c("matvec", jnp.matvec, lambda m, v: np.einsum("bij,j->bi", m, v), X(S3), X(V), dtypes=F),
    c("vecmat", jnp.vecmat, lambda v, m: np.einsum("j,bji->bi", v, m), X((3,)), X(S3),
      dtypes=F),
    c("trapezoid", lambda y, x: (jnp.trapezoid(y, dx=0.5), jnp.trapezoid(y, x, axis=-1)),
      lambda y, x: (np.trapezoid(y, dx=0.5), np.trapezoid(y, x, axis=-1)), X(S2), X(V),
      dtypes=F),
    c("gradient", lambda y: jnp.gradient(y, 0.5), lambda y: tuple(np.gradient(y, 0.5)), X(S2),
      dtypes=F),
    c("gradient[coordinates]", lambda y: jnp.gradient(y, np.array([0.0, 0.5, 1.5, 1.75])),
      lambda y: np.gradient(y, np.array([0.0, 0.5, 1.5, 1.75])), X(V), dtypes=F),
    c("interp", lambda x, f: jnp.interp(x, np.array([-1.0, 0.0, 0.5, 1.5]), f, right=9.0),
      lambda x, f: np.interp(x, [-1.0, 0.0, 0.5, 1.5], f, right=9.0), X(S2), X(V), dtypes=F),
    c("unwrap", lambda p: jnp.unwrap(p * 3, axis=0), lambda p: np.unwrap(p * 3, axis=0),
      X(S2), dtypes=F),
    c("lexsort", lambda a, b: jnp.lexsort((a, b)), lambda a, b: np.lexsort((a, b)), X((7,)),
      X((7,)), dtypes=I + B, grad=False),
    c("partition", lambda x: (jnp.partition(x, 2)[..., 2],
                              jnp.take_along_axis(x, jnp.argpartition(x, 1), -1)[..., 1]),
      lambda x: (np.partition(x, 2)[..., 2],
                 np.take_along_axis(x, np.argpartition(x, 1), -1)[..., 1]), X(S2), dtypes=NUM),
    c("sort_complex", lambda x, y: jnp.sort_complex(x + 1j * y),
      lambda x, y: np.sort_complex(x + 1j * y), X(V), X(V), dtypes=F, grad=False),
    c("piecewise", lambda x: jnp.piecewise(x, [x < 0, x > 1], [lambda t: -t, 5.0, jnp.sin]),
      lambda x: np.piecewise(x, [x < 0, x > 1], [lambda t: -t, 5.0, np.sin]), X(S2),
      dtypes=F),
    c("vectorize", lambda x, y: jnp.vectorize(lambda a, b: a * b + 1)(x, y),
      lambda x, y: np.vectorize(lambda a, b: a * b + 1)(x, y), X(S2), X(V), dtypes=F),
]

# The cost of the table is one compile per operation, transform and dtype. Rows whose dtypes
# take their own code paths keep all of theirs (FULL); the rest run in their first dtype. Only
# the rows in GRAD, whose derivatives take paths of their own (sorting for quantiles, NaN masks,
# differences, zero handling), repeat the costly finite-difference check: the others compose
# functions the table already differentiates (aliases, gathers and scatters).
FULL = {"frexp", "ldexp", "gcd", "lcm", "bitwise_count", "bitwise_invert", "fabs", "heaviside",
        "nan_to_num", "choose", "percentile", "median", "searchsorted", "isin", "cross",
        "lexsort", "bincount", "put", "extract"}
GRAD = {"ldexp", "sinc[at 0]", "quantile", "nanstd", "cov", "cross", "trapezoid", "gradient",
        "interp", "apply_along_axis", "vectorize", "matvec", "insert"}
CASES = [dataclasses.replace(case, grad=case.grad and case.name in GRAD,
                             wide=case.wide and case.name in GRAD | FULL,
                             dtypes=case.dtypes if case.name in FULL else case.dtypes[:1])
         for case in CASES]
assert (FULL | GRAD) <= {case.name for case in CASES}
