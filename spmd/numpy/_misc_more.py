"""The last jax.numpy names: products (cross, matvec, vecmat), calculus on samples (trapezoid,
gradient, interp, unwrap), sorting (lexsort, partition, argpartition, sort_complex) and
vectorize/piecewise."""
from __future__ import annotations

import functools
import operator

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, canonicalize_axis, promote_to_inexact, shape_of
from spmd.numpy._indexing import take, take_along_axis
from spmd.numpy._linalg import matmul
from spmd.numpy._reductions import cumsum, sum as sum_
from spmd.numpy._selection import argsort, sort, where
from spmd.numpy._statistics import searchsorted
from spmd.transforms import dtypes, lax
from spmd.transforms.api import vmap


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (or the z-component for 2-vectors)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = asarray_value(a), asarray_value(b)
    a, b = sh.moveaxis(a, axisa, -1), sh.moveaxis(b, axisb, -1)
    if shape_of(a)[-1] not in (2, 3) or shape_of(b)[-1] not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must be "
                         f"2 or 3), got {shape_of(a)[-1]} and {shape_of(b)[-1]}")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if shape_of(a)[-1] == 3 else uf.multiply(a0, 0)
    b2 = b[..., 2] if shape_of(b)[-1] == 3 else uf.multiply(b0, 0)
    z = uf.subtract(uf.multiply(a0, b1), uf.multiply(a1, b0))
    if shape_of(a)[-1] == 2 and shape_of(b)[-1] == 2:
        return z
    x = uf.subtract(uf.multiply(a1, b2), uf.multiply(a2, b1))
    y = uf.subtract(uf.multiply(a2, b0), uf.multiply(a0, b2))
    return sh.moveaxis(sh.stack([x, y, z], -1), -1, axisc)


def matvec(x1, x2, /):
    """Matrix-vector products over the leading (broadcast) axes."""
    return matmul(x1, sh.expand_dims(asarray_value(x2), -1))[..., 0]


def vecmat(x1, x2, /):
    """Vector-matrix products (the vector conjugated) over the leading axes."""
    return matmul(sh.expand_dims(uf.conjugate(asarray_value(x1)), -2), x2)[..., 0, :]


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of samples y by the trapezoidal rule (spacing dx, or sample points x)."""
    (y,) = promote_to_inexact("trapezoid", y)
    ax = canonicalize_axis(axis, len(shape_of(y)))
    y = sh.moveaxis(y, ax, -1)
    mids = uf.multiply(uf.add(y[..., 1:], y[..., :-1]), 0.5)
    if x is None:
        return uf.multiply(sum_(mids, axis=-1), dx)
    x = asarray_value(x)
    x = sh.moveaxis(x, ax, -1) if len(shape_of(x)) > 1 else x
    return sum_(uf.multiply(mids, sh.diff(x, axis=-1)), axis=-1)


def gradient(f, *varargs, axis=None, edge_order=None):
    """Second-order central differences inside, first-order at the ends (numpy.gradient with
    uniform or coordinate spacing)."""
    if edge_order not in (None, 1):
        raise NotImplementedError("gradient with edge_order=2 is not supported by spmd")
    (y,) = promote_to_inexact("gradient", f)
    nd = len(shape_of(y))
    axes = tuple(range(nd)) if axis is None else tuple(
        canonicalize_axis(a, nd) for a in ((axis,) if isinstance(axis, int) else axis))
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1:
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError(f"gradient: {len(varargs)} spacings given for {len(axes)} axes")
    out = []
    for ax, h in zip(axes, spacings):
        if shape_of(y)[ax] < 2:
            raise ValueError("gradient: each axis needs at least 2 samples")
        v = sh.moveaxis(y, ax, -1)
        h = asarray_value(h)
        if len(shape_of(h)) == 0:
            inner = uf.divide(uf.subtract(v[..., 2:], v[..., :-2]), uf.multiply(h, 2))
            first = uf.divide(uf.subtract(v[..., 1:2], v[..., :1]), h)
            last = uf.divide(uf.subtract(v[..., -1:], v[..., -2:-1]), h)
        else:  # sample coordinates: NumPy's non-uniform second-order formula
            d = sh.diff(h)
            d1, d2 = d[:-1], d[1:]
            inner = uf.divide(uf.add(uf.subtract(
                uf.multiply(uf.multiply(d1, d1), v[..., 2:]),
                uf.multiply(uf.multiply(d2, d2), v[..., :-2])),
                uf.multiply(uf.subtract(uf.multiply(d2, d2), uf.multiply(d1, d1)), v[..., 1:-1])),
                uf.multiply(uf.multiply(d1, d2), uf.add(d1, d2)))
            first = uf.divide(uf.subtract(v[..., 1:2], v[..., :1]), d[:1])
            last = uf.divide(uf.subtract(v[..., -1:], v[..., -2:-1]), d[-1:])
        out.append(sh.moveaxis(sh.concatenate([first, inner, last], axis=-1), -1, ax))
    return out[0] if len(out) == 1 else out


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing)."""
    if period is not None:
        raise NotImplementedError("interp with period= is not supported by spmd")
    (x,), (xp,), (fp,) = (promote_to_inexact("interp", v) for v in (x, xp, fp))
    if len(shape_of(xp)) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError(f"interp: xp and fp must be 1-d of the same length, got shapes "
                         f"{shape_of(xp)} and {shape_of(fp)}")
    n = shape_of(xp)[0]
    i = uf.minimum(uf.maximum(uf.subtract(searchsorted(xp, x, side="right"), 1), 0), n - 2)
    x0, x1 = take(xp, i), take(xp, uf.add(i, 1))
    f0, f1 = take(fp, i), take(fp, uf.add(i, 1))
    span = uf.subtract(x1, x0)
    out = uf.add(f0, uf.multiply(uf.subtract(f1, f0), uf.divide(
        uf.subtract(x, x0), where(uf.equal(span, 0), 1, span))))
    out = where(uf.less(x, xp[0]), fp[0] if left is None else left, out)
    return where(uf.greater(x, xp[-1]), fp[-1] if right is None else right, out)


def unwrap(p, discont=None, axis=-1, period=2 * np.pi):
    """p with jumps larger than discont (default period/2) replaced by their period
    complements, along axis."""
    (p,) = promote_to_inexact("unwrap", p)
    ax = canonicalize_axis(axis, len(shape_of(p)))
    half = period / 2
    discont = half if discont is None else max(discont, half)
    d = sh.diff(p, axis=ax)
    dd = uf.subtract(uf.remainder(uf.add(d, half), period), half)
    dd = where(uf.logical_and(uf.equal(dd, -half), uf.greater(d, 0)), half, dd)
    correction = where(uf.less(uf.abs(d), discont), 0, uf.subtract(dd, d))
    first = lax.slice_in_dim(p, 0, 1, 1, ax)
    rest = uf.add(lax.slice_in_dim(p, 1, shape_of(p)[ax], 1, ax), cumsum(correction, axis=ax))
    return sh.concatenate([first, rest], axis=ax)


def lexsort(keys, axis=-1):
    """Indices that sort by the last key, then the one before it, ... (stable)."""
    keys = [asarray_value(k) for k in keys]
    if not keys:
        raise TypeError("lexsort needs at least one key")
    order = None
    for k in keys:  # least significant first: each stable sort keeps the earlier order
        if order is None:
            order = argsort(k, axis=axis, stable=True)
        else:
            order = take_along_axis(order, argsort(take_along_axis(k, order, axis),
                                                      axis=axis, stable=True), axis)
    return order


def partition(a, kth, axis=-1):
    """An array whose kth entry along axis is in sorted place, smaller ones before it and
    larger after (here: fully sorted, which satisfies that)."""
    x = asarray_value(a)
    kth = operator.index(kth)
    ax = canonicalize_axis(axis, len(shape_of(x)))
    if not -shape_of(x)[ax] <= kth < shape_of(x)[ax]:
        raise ValueError(f"partition: kth(={kth}) out of bounds ({shape_of(x)[ax]})")
    return sort(x, axis=ax)


def argpartition(a, kth, axis=-1):
    """Indices that partition a around its kth entry (here: a stable argsort)."""
    x = asarray_value(a)
    kth = operator.index(kth)
    ax = canonicalize_axis(axis, len(shape_of(x)))
    if not -shape_of(x)[ax] <= kth < shape_of(x)[ax]:
        raise ValueError(f"argpartition: kth(={kth}) out of bounds ({shape_of(x)[ax]})")
    return argsort(x, axis=ax, stable=True)


def sort_complex(a):
    """a sorted (by real part, then imaginary) as a complex array."""
    x = asarray_value(a)
    if not dtypes.is_complex(x.dtype):
        x = lax.convert_element_type(x, np.complex64 if x.dtype in (np.float32, np.float16)
                                     else dtypes.default_complex())
    return sort(x, axis=-1)


def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[i](x) where condlist[i] holds (an extra function: where none holds); the
    functions are evaluated everywhere and selected, as in JAX."""
    x = asarray_value(x)
    conds = [asarray_value(c) for c in (condlist if isinstance(condlist, (list, tuple))
                                        else [condlist])]
    if len(funclist) not in (len(conds), len(conds) + 1):
        raise ValueError(f"piecewise: with {len(conds)} condition(s), funclist must have "
                         f"{len(conds)} or {len(conds) + 1} entries, got {len(funclist)}")
    def value(f):  # a constant, or the function on all of x, in x's dtype and shape
        out = f(x, *args, **kw) if callable(f) else f
        return sh.broadcast_to(lax.convert_element_type(asarray_value(out), x.dtype), shape_of(x))
    out = value(funclist[-1] if len(funclist) == len(conds) + 1 else 0)
    for c, f in zip(conds, funclist[:len(conds)]):
        out = where(c, value(f), out)
    return out


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """pyfunc mapped over its arguments' broadcast elements by vmap (no signature: scalar
    cores; core dimensions in `signature` are not supported yet)."""
    if signature is not None:
        raise NotImplementedError("vectorize with signature= is not supported by spmd; vmap "
                                  "the function over the loop axes instead")

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        positions = [i for i in range(len(args)) if i not in excluded]
        arrays = _broadcast([args[i] for i in positions])

        def core_fn(*xs):
            full = list(args)
            for i, x in zip(positions, xs):
                full[i] = x
            return pyfunc(*full, **kwargs)
        fn = core_fn
        for _ in range(len(shape_of(arrays[0])) if arrays else 0):
            fn = vmap(fn)
        return fn(*arrays)
    return wrapped


def _broadcast(arrays):
    arrays = [asarray_value(a) for a in arrays]
    if not arrays:
        return arrays
    shape = sh.broadcast_shapes(*(shape_of(a) for a in arrays))
    return [sh.broadcast_to(a, shape) for a in arrays]
