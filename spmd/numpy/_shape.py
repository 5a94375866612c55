"""Shape manipulation: reshape, ravel, transpose, moveaxis, squeeze, expand_dims, broadcasting,
joining (concatenate, stack, ...), splitting, tile, repeat, flip, roll, and the shape queries."""
from __future__ import annotations

import builtins
import operator

import numpy as np

from spmd.numpy._core import (asarray_value, broadcast_shapes, broadcast_to as _broadcast_to,
                              canonicalize_axes, canonicalize_axis, promote_joined, shape_of,
                              stack as _stack, to_dtype)
from spmd.numpy._indexing import take
from spmd.numpy._ufuncs import not_equal, remainder, subtract
from spmd.transforms import core, lax
from spmd.transforms.core import Tracer


def _arr(x):
    return asarray_value(x)


# ---------------------------------------------------------------- queries
def shape(a):
    return tuple(core.get_aval(a).shape) if _is_typed(a) else np.shape(a)


def ndim(a):
    return core.get_aval(a).ndim if _is_typed(a) else np.ndim(a)


def size(a, axis=None):
    s = shape(a)
    if axis is None:
        return int(np.prod(s, dtype=np.int64))
    return s[canonicalize_axis(axis, len(s))]


def _is_typed(a):
    return hasattr(a, "aval") or isinstance(a, Tracer)


# ---------------------------------------------------------------- reshaping
def _infer_shape(newshape, total, old_shape):
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    try:
        newshape = [operator.index(d) for d in newshape]
    except TypeError:
        raise TypeError(f"reshape: new shape must be a sequence of ints, got {newshape!r}"
                        ) from None
    unknown = [i for i, d in enumerate(newshape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in newshape):
        raise ValueError(f"reshape: can only specify one unknown dimension (-1), got {newshape}")
    known = int(np.prod([d for d in newshape if d != -1], dtype=np.int64))
    if unknown:
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape array of shape {old_shape} (size {total}) into "
                             f"shape {tuple(newshape)}")
        newshape[unknown[0]] = total // known
    elif known != total:
        raise ValueError(f"cannot reshape array of shape {old_shape} (size {total}) into shape "
                         f"{tuple(newshape)}")
    return tuple(newshape)


def reshape(a, shape=None, order="C", *, newshape=None):
    if shape is None:
        shape = newshape
    x = _arr(a)
    old = shape_of(x)
    new = _infer_shape(shape, int(np.prod(old, dtype=np.int64)), old)
    if order == "C":
        return lax.reshape(x, new)
    if order == "F":  # column-major: reverse the axes on both sides of a row-major reshape
        rev_in = lax.transpose(x, tuple(reversed(range(len(old)))))
        out = lax.reshape(rev_in, tuple(reversed(new)))
        return lax.transpose(out, tuple(reversed(range(len(new)))))
    raise ValueError(f"reshape: order must be 'C' or 'F', got {order!r}")


def ravel(a, order="C"):
    x = _arr(a)
    return reshape(x, (-1,), order)


def transpose(a, axes=None):
    x = _arr(a)
    nd = len(shape_of(x))
    if axes is None:
        axes = tuple(reversed(range(nd)))
    axes = tuple(canonicalize_axis(i, nd) for i in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} don't match array of dimension {nd}")
    return lax.transpose(x, axes)


permute_dims = transpose


def matrix_transpose(x):
    x = _arr(x)
    if len(shape_of(x)) < 2:
        raise ValueError(f"matrix_transpose needs an array of rank >= 2, got shape {shape_of(x)}")
    return swapaxes(x, -1, -2)


def swapaxes(a, axis1, axis2):
    x = _arr(a)
    nd = len(shape_of(x))
    perm = list(range(nd))
    i, j = canonicalize_axis(axis1, nd), canonicalize_axis(axis2, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(x, tuple(perm))


def moveaxis(a, source, destination):
    x = _arr(a)
    nd = len(shape_of(x))
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         f"elements, got {source} and {destination}")
    src = [canonicalize_axis(s, nd) for s in src]
    dst = [canonicalize_axis(d, nd) for d in dst]
    perm = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(x, tuple(perm))


def squeeze(a, axis=None):
    x = _arr(a)
    s = shape_of(x)
    axes = tuple(i for i, n in enumerate(s) if n == 1) if axis is None else \
        canonicalize_axes(axis, len(s))
    for i in axes:
        if s[i] != 1:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to "
                             f"one: axis {i} of shape {s}")
    return lax.reshape(x, tuple(n for i, n in enumerate(s) if i not in axes))


def expand_dims(a, axis):
    x = _arr(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_nd = len(shape_of(x)) + len(axes)
    axes = canonicalize_axes(axes, out_nd)
    new = list(shape_of(x))
    for i in axes:
        new.insert(i, 1)
    return lax.reshape(x, tuple(new))


def atleast_1d(*arys):
    out = [reshape(a, (1,)) if ndim(a) == 0 else _arr(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        x = _arr(a)
        out.append(lax.reshape(x, (1,) * (2 - ndim(x)) + shape_of(x)) if ndim(x) < 2 else x)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        x = _arr(a)
        s = shape_of(x)
        new = {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
        out.append(lax.reshape(x, new))
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------- broadcasting
def broadcast_to(array, shape):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _broadcast_to(_arr(array), shape)


def broadcast_arrays(*args):
    arrs = [_arr(a) for a in args]
    target = broadcast_shapes(*(shape_of(a) for a in arrs))
    return [_broadcast_to(a, target) for a in arrs]


# ---------------------------------------------------------------- joining
def concatenate(arrays, axis=0, dtype=None):
    if isinstance(arrays, (Tracer,)) or hasattr(arrays, "aval"):
        arrays = [arrays[i] for i in range(shape_of(arrays)[0])]
    arrays = promote_joined("concatenate", arrays)
    if dtype is not None:
        arrays = [lax.convert_element_type(a, np.dtype(dtype)) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    shapes = [shape_of(a) for a in arrays]
    if any(len(s) == 0 for s in shapes):
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = canonicalize_axis(axis, len(shapes[0]))
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != len(shapes[0]):
            raise ValueError(f"all the input array dimensions must match: the array at index 0 "
                             f"has shape {shapes[0]} and the array at index {i} has shape {s}")
        for d, (m, n) in enumerate(zip(shapes[0], s)):
            if d != ax and m != n:
                raise ValueError(f"all the input array dimensions except for the concatenation "
                                 f"axis must match exactly, but along dimension {d}, the array "
                                 f"at index 0 has size {m} and the array at index {i} has size "
                                 f"{n} (shapes {shapes[0]} and {s})")
    return lax.concatenate(arrays, ax)


concat = concatenate


def stack(arrays, axis=0, out=None, dtype=None):
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.stack is not supported")
    return _stack(arrays, axis, dtype)


def hstack(tup, dtype=None):
    arrs = atleast_1d(*tup) if len(tup) > 1 else [atleast_1d(*tup)]
    return concatenate(arrs, 0 if ndim(arrs[0]) == 1 else 1, dtype)


def vstack(tup, dtype=None):
    arrs = atleast_2d(*tup) if len(tup) > 1 else [atleast_2d(*tup)]
    return concatenate(arrs, 0, dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    arrs = atleast_3d(*tup) if len(tup) > 1 else [atleast_3d(*tup)]
    return concatenate(arrs, 2, dtype)


def column_stack(tup):
    arrs = [lax.reshape(_arr(a), (shape_of(_arr(a))[0], 1)) if ndim(a) < 2 else _arr(a)
            for a in tup]
    return concatenate(arrs, 1)


def append(arr, values, axis=None):
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


# ---------------------------------------------------------------- splitting
def _split_points(name, n, indices_or_sections, even):
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0")
        if even and n % sections:
            raise ValueError(f"array split does not result in an equal division: an axis of "
                             f"size {n} into {sections} sections")
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
        return list(np.cumsum([0] + sizes))
    if isinstance(indices_or_sections, Tracer):
        indices_or_sections.to_concrete(f"{name}'s split points (they fix the output shapes)")
    points = [builtins.min(builtins.max(int(i) + (n if int(i) < 0 else 0), 0), n)
              for i in np.asarray(indices_or_sections).reshape(-1)]
    return [0] + points + [n]


def _split(name, ary, indices_or_sections, axis, even):
    x = _arr(ary)
    s = shape_of(x)
    ax = canonicalize_axis(axis, len(s))
    points = _split_points(name, s[ax], indices_or_sections, even)
    out = []
    for start, stop in zip(points[:-1], points[1:]):
        stop = builtins.max(start, stop)
        out.append(lax.slice_in_dim(x, int(start), int(stop), 1, ax))
    return out


def split(ary, indices_or_sections, axis=0):
    return _split("split", ary, indices_or_sections, axis, even=True)


def array_split(ary, indices_or_sections, axis=0):
    return _split("array_split", ary, indices_or_sections, axis, even=False)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0 if ndim(ary) == 1 else 1)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0)


# ---------------------------------------------------------------- repetition
def tile(A, reps):
    x = _arr(A)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = shape_of(x)
    nd = builtins.max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + reps
    # broadcast to (r0, s0, r1, s1, ...) then merge each pair
    x = lax.reshape(x, s)
    paired = tuple(v for r, n in zip(reps, s) for v in (r, n))
    x = lax.broadcast_in_dim(x, paired, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(x, tuple(r * n for r, n in zip(reps, s)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    x = _arr(a)
    if axis is None:
        x, axis = ravel(x), 0
    s = shape_of(x)
    ax = canonicalize_axis(axis, len(s))
    if isinstance(repeats, Tracer):
        repeats.to_concrete("repeat's repeats (they fix the output shape)")
    reps = np.asarray(repeats)
    if reps.ndim == 0:  # every element the same number of times: a broadcast
        r = int(reps)
        x = lax.broadcast_in_dim(x, s[:ax + 1] + (r,) + s[ax + 1:],
                                 tuple(range(ax + 1)) + tuple(range(ax + 2, len(s) + 1)))
        out = lax.reshape(x, s[:ax] + (s[ax] * r,) + s[ax + 1:])
    else:
        if reps.shape != (s[ax],):
            raise ValueError(f"repeat: repeats of shape {reps.shape} must be a scalar or have "
                             f"one entry per element along axis {ax} (size {s[ax]})")
        out = take(x, np.repeat(np.arange(s[ax]), reps), axis=ax)
    if total_repeat_length is not None and shape_of(out)[ax] != total_repeat_length:
        raise ValueError(f"repeat: total_repeat_length={total_repeat_length} but the repeats "
                         f"give {shape_of(out)[ax]}")
    return out


# ---------------------------------------------------------------- reordering
def flip(m, axis=None):
    x = _arr(m)
    axes = canonicalize_axes(axis, len(shape_of(x)))
    return lax.rev(x, axes) if axes else x


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    x = _arr(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape_of(x))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shifts = (shift,) * len(axes) if isinstance(shift, (int, np.integer, Tracer)) or np.ndim(
        shift) == 0 else tuple(shift)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shift} and axis {axis} must have the same length")
    for sh, ax in zip(shifts, axes):
        x = _roll_one(x, sh, canonicalize_axis(ax, len(shape_of(x))))
    return x


def _roll_one(x, shift, ax):
    n = shape_of(x)[ax]
    if n == 0:
        return x
    if isinstance(shift, Tracer) or hasattr(shift, "aval"):
        # a traced shift: read a window of [x, x] starting at (n - shift) mod n
        start = remainder(subtract(n, shift), n)
        doubled = lax.concatenate([x, x], ax)
        starts = [np.int32(0)] * len(shape_of(x))
        starts[ax] = lax.convert_element_type(start, np.int32)
        return lax.dynamic_slice(doubled, starts, shape_of(x))
    k = int(shift) % n
    if k == 0:
        return x
    return lax.concatenate([lax.slice_in_dim(x, n - k, n, 1, ax),
                            lax.slice_in_dim(x, 0, n - k, 1, ax)], ax)


def rot90(m, k=1, axes=(0, 1)):
    x = _arr(m)
    k = int(k) % 4
    a0, a1 = (canonicalize_axis(a, len(shape_of(x))) for a in axes)
    if a0 == a1:
        raise ValueError("rot90: axes must be different")
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(range(len(shape_of(x))))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return lax.transpose(flip(x, a1), perm) if k == 1 else flip(lax.transpose(x, perm), a1)


def diff(a, n=1, axis=-1):
    x = _arr(a)
    ax = canonicalize_axis(axis, len(shape_of(x)))
    for _ in range(int(n)):
        m = shape_of(x)[ax]
        hi, lo = lax.slice_in_dim(x, 1, m, 1, ax), lax.slice_in_dim(x, 0, builtins.max(m - 1, 0),
                                                                    1, ax)
        x = not_equal(hi, lo) if core.get_aval(x).dtype == np.bool_ else subtract(hi, lo)
    return x


def pad(array, pad_width, mode="constant", *, constant_values=0):
    """numpy.pad in "constant" mode: pad_width is an int, a (before, after) pair, or one pair
    per axis."""
    if mode != "constant":
        raise NotImplementedError(f"spmd.numpy.pad supports mode='constant' only, got {mode!r}")
    x = _arr(array)
    nd = len(shape_of(x))
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width} must be an int, a (before, after) pair, "
                         f"or one pair per axis ({nd})") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width {pad_width} must be non-negative")
    value = lax.convert_element_type(to_dtype(_arr(constant_values), x.dtype), x.dtype)
    if core.get_aval(value).ndim:
        raise NotImplementedError("pad: constant_values must be a scalar")
    return lax.pad(x, value, [(int(lo), int(hi), 0) for lo, hi in widths])
