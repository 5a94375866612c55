"""The table of spmd.numpy functions that test_numpy_values (NumPy), test_numpy_jit (eager),
test_numpy_grad (finite differences) and test_numpy_vmap (the loop) run. One `Case` per
function and parameter choice; adding a function adds its tests here, in one line.

A case's arguments are drawers: `X` arrays take the dtype under test (and are the ones
differentiated and vmapped), `Ints`, `Perm` and `Mask` are fixed-type integer and boolean arrays.
The expected dtype is NumPy's result dtype as spmd stores it (64-bit narrowed without x64).
Data-movement cases (`move`) run in float32 and bool only, and not again in float64: their
dtype does not change what they compute, so more dtypes would only add compile time.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Callable

import numpy as np
import pytest

import spmd.numpy as jnp
from spmd.transforms import dtypes

DTYPES = {"float32": np.dtype(np.float32), "int32": np.dtype(np.int32),
          "bool": np.dtype(np.bool_), "float64": np.dtype(np.float64)}
F, I, B = ("float32",), ("int32",), ("bool",)
NUM = F + I
ALL = F + I + B


# ---------------------------------------------------------------- argument drawers
@dataclasses.dataclass(frozen=True)
class X:
    """An array of the dtype under test: floats uniform in [-2, 2) (or [lo, hi)), ints in
    [-5, 6), bools fair."""
    shape: tuple
    lo: float = -2.0
    hi: float = 2.0

    def draw(self, rng, dtype):
        if dtype == np.bool_:
            return rng.random(self.shape) < 0.5
        if dtypes.is_integer(dtype):
            return rng.integers(-5, 6, self.shape).astype(dtype)
        return rng.uniform(self.lo, self.hi, self.shape).astype(dtype)


@dataclasses.dataclass(frozen=True)
class Ints:
    """int32 values in [lo, hi): indices, repeat counts."""
    shape: tuple
    lo: int
    hi: int

    def draw(self, rng, dtype):
        return rng.integers(self.lo, self.hi, self.shape).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Perm:
    """A permutation of range(n) along the last axis of `shape` (argsort-like indices)."""
    shape: tuple

    def draw(self, rng, dtype):
        return np.argsort(rng.random(self.shape), axis=-1).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Mask:
    shape: tuple

    def draw(self, rng, dtype):
        return rng.random(self.shape) < 0.5


# ---------------------------------------------------------------- cases
@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable  # the spmd.numpy function of the drawn arrays
    ref: Callable  # the same with NumPy
    args: tuple
    dtypes: tuple = ALL
    grad: bool = True  # differentiable in its X arguments (float dtypes)
    traceable: bool = True  # works under jit and vmap (False: needs concrete values)
    wide: bool = True  # also run in float64 under x64 (numerics, not data movement)
    check_dtype: bool = True

    def draw(self, dtype, seed_extra=0):
        rng = np.random.default_rng(zlib.crc32(self.name.encode()) + seed_extra)
        return [a.draw(rng, dtype) for a in self.args]

    def expected(self, args):
        return _tree_map(np.asarray, self.ref(*args))

    @property
    def diff_positions(self):
        return [i for i, a in enumerate(self.args) if isinstance(a, X)]

    @property
    def id(self):
        shapes = ",".join("x".join(map(str, a.shape)) for a in self.args)
        return f"{self.name}({shapes})"

    def __repr__(self):
        return self.id


def _tree_map(f, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_tree_map(f, e) for e in x)
    return f(x)


S2, S3 = (3, 4), (2, 3, 4)
V = (4,)


def c(name, fn, ref, *args, **kw):
    return Case(name, fn, ref, tuple(args), **kw)


def same(name, *args, **kw):
    """A case whose spmd.numpy and NumPy functions have one name and signature."""
    fn_kwargs = kw.pop("kwargs", {})
    return c(name + (f"{fn_kwargs}" if fn_kwargs else ""),
             lambda *a: getattr(jnp, name)(*a, **fn_kwargs),
             lambda *a: getattr(np, name)(*a, **fn_kwargs), *args, **kw)


def move(name, fn, ref, *args, **kw):
    """A data-movement case: dtype-agnostic, so float32 and bool only, and no 64-bit run."""
    return c(name, fn, ref, *args, **{"dtypes": ("float32", "bool"), "wide": False, **kw})


def same_move(name, *args, **kw):
    return same(name, *args, **{"dtypes": ("float32", "bool"), "wide": False, **kw})


def _inexact(*arrays):
    """JAX's convolve/correlate compute in the default float when given integers."""
    return [a if np.issubdtype(a.dtype, np.inexact) else a.astype(np.float32) for a in arrays]


def _np_einsum(spec):
    return lambda *a: np.einsum(spec, *a)


def _ein(spec, *shapes, **kw):
    return c(f"einsum[{spec}]", lambda *a: jnp.einsum(spec, *a), _np_einsum(spec),
             *[X(s) for s in shapes], dtypes=NUM, **kw)


def _stable_descending_argsort(x):
    """Indices of x sorted descending along the last axis, ties in their original order."""
    return np.argsort(-x.astype(np.float64), axis=-1, kind="stable") if x.dtype != np.bool_ \
        else np.argsort(~x, axis=-1, kind="stable")


def _padded_nonzero(x, size, fill):
    return tuple(np.concatenate([i[:size], np.full(max(size - len(i), 0), fill)]).astype(
        np.int64) for i in np.nonzero(x))


def _padded_unique(x, size):
    u = np.unique(x)[:size]
    return np.concatenate([u, np.full(size - len(u), u.min(), u.dtype)])


CASES = [
    # reductions
    same("sum", X(S3)),
    same("sum", X(S3), kwargs=dict(axis=1, keepdims=True)),
    same("sum", X(S3), kwargs=dict(axis=(0, 2))),
    same("prod", X(S2), kwargs=dict(axis=1)),
    same("max", X(S3), kwargs=dict(axis=-1)),
    same("min", X(S3), kwargs=dict(axis=(0, 1), keepdims=True)),
    same("amax", X(S2)),
    same("mean", X(S3), kwargs=dict(axis=1)),
    same("mean", X(S2)),
    same("var", X(S3), kwargs=dict(axis=2, ddof=1), dtypes=NUM),
    same("std", X(S3), kwargs=dict(axis=(0, 1)), dtypes=NUM),
    same("argmax", X(S3), kwargs=dict(axis=1), grad=False),
    same("argmin", X(S2), grad=False),
    same("all", X(S3), kwargs=dict(axis=0), grad=False),
    same("any", X(S3), kwargs=dict(axis=-1, keepdims=True), grad=False),
    same("cumsum", X(S3), kwargs=dict(axis=1)),
    same("cumprod", X(S2), kwargs=dict(axis=0)),
    same("cumsum", X(S2)),
    same("count_nonzero", X(S3), kwargs=dict(axis=1), grad=False),
    same("ptp", X(S3), kwargs=dict(axis=2), dtypes=NUM),
    c("nansum", lambda x: jnp.nansum(jnp.where(x > 1, jnp.nan, x), axis=0),
      lambda x: np.nansum(np.where(x > 1, np.nan, x), axis=0), X(S2), dtypes=F),
    c("nanmean", lambda x: jnp.nanmean(jnp.where(x > 1, jnp.nan, x), axis=1),
      lambda x: np.nanmean(np.where(x > 1, np.nan, x), axis=1), X(S2), dtypes=F),
    c("average", lambda x, w: jnp.average(x, 1, w), lambda x, w: np.average(x, 1, w),
      X(S2), X(S2, 0.5, 2.0), dtypes=F),
    c("average[1-d weights]", lambda x, w: jnp.average(x, 0, w),
      lambda x, w: np.average(x, 0, w), X(S2), X((3,), 0.5, 2.0), dtypes=F),
    # shapes
    same_move("reshape", X(S3), kwargs=dict(shape=(4, -1))),
    same_move("reshape", X(S3), kwargs=dict(shape=(6, 4), order="F")),
    same_move("ravel", X(S3)),
    same_move("transpose", X(S3)),
    same_move("transpose", X(S3), kwargs=dict(axes=(1, 2, 0))),
    same_move("swapaxes", X(S3), kwargs=dict(axis1=0, axis2=2)),
    same_move("moveaxis", X(S3), kwargs=dict(source=(0, 1), destination=(-1, 0))),
    same_move("squeeze", X((3, 1, 4, 1)), kwargs=dict(axis=(1, 3))),
    same_move("expand_dims", X(S2), kwargs=dict(axis=(0, 2))),
    same_move("broadcast_to", X((3, 1)), kwargs=dict(shape=(2, 3, 4))),
    same_move("broadcast_arrays", X((3, 1)), X(V)),
    move("concatenate", lambda a, b: jnp.concatenate([a, b], 1),
         lambda a, b: np.concatenate([a, b], 1), X(S3), X((2, 2, 4))),
    move("concatenate[None]", lambda a, b: jnp.concatenate([a, b], None),
         lambda a, b: np.concatenate([a, b], None), X(S2), X(S3)),
    move("stack", lambda a, b: jnp.stack([a, b], -1), lambda a, b: np.stack([a, b], -1),
         X(S2), X(S2)),
    move("hstack", lambda a, b: jnp.hstack([a, b]), lambda a, b: np.hstack([a, b]), X(S2), X(S2)),
    move("vstack", lambda a, b: jnp.vstack([a, b]), lambda a, b: np.vstack([a, b]), X(V), X(S2)),
    move("dstack", lambda a, b: jnp.dstack([a, b]), lambda a, b: np.dstack([a, b]), X(S2), X(S2)),
    move("column_stack", lambda a, b: jnp.column_stack([a, b]),
         lambda a, b: np.column_stack([a, b]), X(V), X((4, 2))),
    move("split", lambda x: jnp.split(x, [1, 3], axis=2), lambda x: np.split(x, [1, 3], axis=2),
         X(S3)),
    move("array_split", lambda x: jnp.array_split(x, 3, axis=-1),
         lambda x: np.array_split(x, 3, axis=-1), X(S3)),
    same_move("tile", X(S2), kwargs=dict(reps=(2, 1, 2))),
    same_move("repeat", X(S3), kwargs=dict(repeats=2, axis=1)),
    move("repeat[array]", lambda x: jnp.repeat(x, np.array([2, 0, 1]), axis=0),
         lambda x: np.repeat(x, [2, 0, 1], axis=0), X(S2)),
    same_move("flip", X(S3), kwargs=dict(axis=(0, 2))),
    same_move("fliplr", X(S2)),
    same_move("roll", X(S3), kwargs=dict(shift=2, axis=2)),
    same_move("roll", X(S2), kwargs=dict(shift=-5)),
    move("roll[traced shift]", lambda x, s: jnp.roll(x, s[0], axis=1),
         lambda x, s: np.roll(x, s[0], axis=1), X(S2), Ints((1,), -6, 6)),
    same_move("rot90", X(S3), kwargs=dict(k=3, axes=(1, 2))),
    same_move("atleast_3d", X(V)),
    same_move("diff", X(S3), kwargs=dict(axis=1)),
    move("append", lambda a, b: jnp.append(a, b, axis=0), lambda a, b: np.append(a, b, axis=0),
         X(S2), X((1, 4))),
    move("pad", lambda x: jnp.pad(x, ((0, 1), (2, 0)), constant_values=1),
         lambda x: np.pad(x, ((0, 1), (2, 0)), constant_values=1), X(S2)),
    # products
    same("matmul", X(S3), X((4, 2)), dtypes=NUM),
    same("matmul", X((3,)), X(S3), dtypes=NUM),
    same("matmul", X((2, 1, 3, 4)), X((5, 4, 2)), dtypes=NUM),
    same("matmul", X((3, 4)), X((2, 4, 3)), dtypes=NUM),
    same("matmul", X(S3), X(V), dtypes=NUM),
    same("dot", X(S3), X((4, 2)), dtypes=NUM),
    same("dot", X(S2), X(V), dtypes=NUM),
    same("vdot", X(S2), X(S2), dtypes=NUM),
    same("inner", X(S3), X((2, 4)), dtypes=NUM),
    same("outer", X(V), X((3,)), dtypes=NUM),
    same("tensordot", X(S3), X((3, 4, 2)), dtypes=NUM),
    same("tensordot", X(S3), X((4, 2, 3)), kwargs=dict(axes=([1, 2], [2, 0])), dtypes=NUM),
    same("kron", X((2, 3)), X((2, 2)), dtypes=NUM),
    # convolve/correlate: each mode, the shorter operand first and second, an even kernel
    *[c(f"{name}[{mode}]", lambda a, v, n=name, m=mode: getattr(jnp, n)(a, v, m),
        lambda a, v, n=name, m=mode: getattr(np, n)(*_inexact(a, v), m), X(x), X(y),
        dtypes=NUM if x == (5,) else F)
      for name in ("convolve", "correlate") for mode in ("full", "same", "valid")
      for x, y in [((5,), (3,)), ((3,), (6,))]],
    _ein("ij,jk->ik", S2, (4, 2)),
    _ein("bij,bkj->bik", S3, (2, 5, 4)),
    _ein("ij,jk", S2, (4, 2)),
    _ein("ii", (3, 3)),
    _ein("ii->i", (3, 3)),
    _ein("ij->", S2),
    _ein("ij->ji", S2),
    _ein("i,j->ij", (3,), V),
    _ein("...ij,...jk->...ik", S3, (1, 4, 2)),
    _ein("ij,jk,kl->il", S2, (4, 2), (2, 3)),
    _ein("bii->bi", (2, 3, 3)),
    _ein("ijk,kj->i", S3, (4, 3)),
    # selection and sorting
    c("where", lambda m, a, b: jnp.where(m, a, b), np.where, Mask(S2), X(S2), X(V)),
    c("where[scalar]", lambda a: jnp.where(a > 0, a, 0), lambda a: np.where(a > 0, a, 0),
      X(S2), dtypes=NUM),
    c("clip", lambda x: jnp.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), X(S3), dtypes=NUM),
    c("clip[arrays]", lambda x, lo: jnp.clip(x, lo, 1.5), lambda x, lo: np.clip(x, lo, 1.5),
      X(S2), X(V), dtypes=F),
    same("sort", X(S3), kwargs=dict(axis=1)),
    same("sort", X(S2), kwargs=dict(axis=None)),
    c("sort[descending]", lambda x: jnp.sort(x, axis=0, descending=True),
      lambda x: np.flip(np.sort(x, axis=0), 0), X(S2)),
    c("argsort", lambda x: jnp.argsort(x, axis=1), lambda x: np.argsort(x, 1, kind="stable"),
      X(S3), grad=False),
    c("argsort[descending]", lambda x: jnp.argsort(x, axis=-1, descending=True),
      _stable_descending_argsort, X(S2), grad=False),
    move("take", lambda x, i: jnp.take(x, i, axis=1), lambda x, i: np.take(x, i, axis=1),
         X(S3), Ints((2, 2), -3, 3)),
    move("take[flat]", lambda x, i: jnp.take(x, i), lambda x, i: np.take(x, i), X(S2),
         Ints((5,), -12, 12)),
    move("take_along_axis", lambda x, i: jnp.take_along_axis(x, i, axis=2),
         lambda x, i: np.take_along_axis(x, i, axis=2), X(S3), Perm(S3)),
    move("take_along_axis[broadcast]", lambda x, i: jnp.take_along_axis(x, i, axis=0),
         lambda x, i: np.take_along_axis(x, i, axis=0), X(S2), Ints((2, 1), 0, 3)),
    same_move("diag", X(S2), kwargs=dict(k=1)),
    same_move("diag", X(V), kwargs=dict(k=-1)),
    same_move("diagonal", X(S3), kwargs=dict(offset=-1, axis1=1, axis2=0)),
    same("trace", X(S3), kwargs=dict(offset=1, axis1=2, axis2=1)),
    same_move("triu", X(S3), kwargs=dict(k=1)),
    same_move("tril", X(S2), kwargs=dict(k=-1)),
    c("round", lambda x: jnp.round(x * 7, 1), lambda x: np.round(x * np.float32(7), 1), X(S2),
      dtypes=F, grad=False),
    c("round[int]", lambda x: jnp.round(x), lambda x: np.round(x), X(S2), dtypes=I),
    c("isclose", lambda a, b: jnp.isclose(a, a + b * 1e-5),
      lambda a, b: np.isclose(a, a + b * np.float32(1e-5)), X(S2), X(S2), dtypes=F, grad=False),
    c("allclose", lambda a: jnp.allclose(a, a + 1e-9), lambda a: np.allclose(a, a + 1e-9),
      X(S2), dtypes=F, grad=False),
    c("array_equal", lambda a: jnp.array_equal(a, a), lambda a: np.array_equal(a, a), X(S2),
      grad=False),
    move("meshgrid", lambda a, b: jnp.meshgrid(a, b), lambda a, b: tuple(np.meshgrid(a, b)),
         X((3,)), X(V), check_dtype=True),
    move("meshgrid[ij,sparse]", lambda a, b: jnp.meshgrid(a, b, indexing="ij", sparse=True),
         lambda a, b: tuple(np.meshgrid(a, b, indexing="ij", sparse=True)), X((3,)), X(V)),
    c("nonzero[size]", lambda x: jnp.nonzero(x > 0, size=7, fill_value=-1),
      lambda x: _padded_nonzero(x > 0, 7, -1), X(S2), dtypes=NUM, grad=False),
    c("unique[size]", lambda x: jnp.unique(x, size=8), lambda x: _padded_unique(x, 8),
      X((3, 3)), dtypes=I + B, grad=False),
    c("nonzero", lambda x: jnp.nonzero(x), lambda x: np.nonzero(x), X(S3), grad=False,
      traceable=False),
    c("argwhere", lambda x: jnp.argwhere(x), np.argwhere, X(S2), grad=False, traceable=False),
    c("flatnonzero", lambda x: jnp.flatnonzero(x), np.flatnonzero, X(S2), grad=False,
      traceable=False),
    c("unique", lambda x: jnp.unique(x, return_counts=True, return_inverse=True),
      lambda x: np.unique(x, return_counts=True, return_inverse=True), X(S2), dtypes=I + B,
      grad=False, traceable=False),
    c("where[one arg]", lambda x: jnp.where(x), np.where, X(S2), grad=False, traceable=False),
    # elementwise with broadcasting and promotion
    same("add", X((3, 1)), X(V)),
    same("subtract", X(S3), X((3, 1)), dtypes=NUM),
    same("multiply", X(S2), X(V)),
    same("divide", X(S2), X(V, 0.5, 2.0), dtypes=F),
    c("floor_divide", lambda a, b: jnp.floor_divide(a, b), np.floor_divide, X(S2),
      Ints(V, 1, 4), dtypes=I),
    c("remainder", lambda a, b: jnp.remainder(a, b), np.remainder, X(S2), Ints(V, -4, -1),
      dtypes=I),
    same("maximum", X(S2), X(V), dtypes=NUM),
    same("logaddexp", X(S2), X(V), dtypes=F),
    same("hypot", X(S2), X(V), dtypes=F),
    same("arctan2", X(S2), X(V), dtypes=F),
    same("fmax", X(S2), X(V), dtypes=F),
    same("deg2rad", X(S2), dtypes=F),
    c("power[int]", lambda a, b: jnp.power(a, b), np.power, X(S2), Ints(V, 0, 4), dtypes=I),
]


def _more_cases():
    from tests.spmd.numpy_more_cases import CASES as more  # a table that builds on this one's
    return more


CASES += _more_cases()


def cases(keep=lambda case: True):
    return [pytest.param(case, id=case.id) for case in CASES if keep(case)]


def case_dtypes(keep=lambda case: True, dtype_keep=lambda d: True):
    return [pytest.param(case, d, id=f"{case.id}-{d}") for case in CASES if keep(case)
            for d in case.dtypes if dtype_keep(d)]


def expected_dtype(np_value):
    """NumPy's result dtype as spmd stores it (64-bit types narrowed without x64)."""
    return dtypes.canonicalize(np.asarray(np_value).dtype)
