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
]

# Rows that compose functions the table already differentiates (aliases, gathers and scatters,
# sorts): their values are checked in one dtype, without the costly finite-difference run.
LIGHT = {"acos", "atan2", "pow", "fabs", "modf", "sinc", "i0", "angle", "unstack", "block",
         "dsplit", "delete", "delete[mask,flat]", "insert[one index]", "resize", "rollaxis",
         "ediff1d", "apply_over_axes", "choose", "compress", "compress[traced,size]", "extract",
         "put", "place", "fill_diagonal", "fill_diagonal[wrap,tall]", "tril_indices",
         "triu_indices_from", "mask_indices", "ix_", "mgrid", "ogrid", "r_", "c_", "percentile",
         "nanmedian", "nanquantile", "nanpercentile", "nanvar", "nancumsum", "nancumprod",
         "cov[y,columns,ddof]", "bincount", "median", "corrcoef", "put_along_axis", "insert",
         *(f"quantile[{m}]" for m in ("lower", "higher", "midpoint", "nearest"))}
CASES = [dataclasses.replace(case, grad=False, wide=False, dtypes=case.dtypes[:1])
         if case.name in LIGHT else case for case in CASES]
assert LIGHT <= {case.name for case in CASES}
