"""Products: matmul (batched, NumPy's 1-D rules), dot, vdot, inner, outer, tensordot, kron.
Each promotes its operands to one dtype and becomes one dot_general (plus reshapes and
transposes); int and bool products accumulate in their own dtype, as in JAX."""
from __future__ import annotations

import numpy as np

from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import (asarray_value, broadcast_shapes, broadcast_to, canonicalize_axis,
                              check_array_like, result_dtype, shape_of, to_dtype)
from spmd.numpy._reductions import sum as _sum
from spmd.transforms import lax


def promote_operands(name, *args):
    """Operands as arrays of their common dtype (no broadcasting)."""
    check_array_like(name, *args)
    dtype, weak = result_dtype(*args)
    return [to_dtype(asarray_value(a), dtype, weak) for a in args]


def _dot_general(a, b, contract, batch=((), ()), precision=None, preferred_element_type=None):
    return lax.dot_general(a, b, (contract, batch), precision, preferred_element_type)


def matmul(a, b, *, precision=None, preferred_element_type=None):
    """a @ b: the last axis of a against the second-to-last of b (the only one if 1-D), the
    leading axes broadcast as batch dimensions."""
    a, b = promote_operands("matmul", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ValueError(f"matmul: operands must not be scalars (shapes {sa} and {sb}); use "
                         "multiply or * for scalars")
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        a, sa = lax.reshape(a, (1,) + sa), (1,) + sa
    if b_vec:
        b, sb = lax.reshape(b, sb + (1,)), sb + (1,)
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: input operand 1 has a mismatch in its core dimension 0 "
                         f"(size {sb[-2]} is different from {sa[-1]}): shapes "
                         f"{shape_of(a) if not a_vec else sa[1:]} and "
                         f"{shape_of(b) if not b_vec else sb[:-1]}")
    batch_a, batch_b = sa[:-2], sb[:-2]
    batch = broadcast_shapes(batch_a, batch_b)
    nb = len(batch)
    if not batch_a or not batch_b:
        # one side has no batch axes: they are free axes of the other side, no broadcast needed
        out = _dot_general(a, b, ((len(sa) - 1,), (len(sb) - 2,)), precision=precision,
                           preferred_element_type=preferred_element_type)
        if not batch_a and batch_b:  # result is (n, batch..., m): bring the batch axes first
            perm = tuple(range(1, nb + 1)) + (0, nb + 1)
            out = lax.transpose(out, perm)
    else:
        if batch_a != batch:
            a = broadcast_to(a, batch + sa[-2:])
        if batch_b != batch:
            b = broadcast_to(b, batch + sb[-2:])
        dims = tuple(range(nb))
        out = _dot_general(a, b, ((nb + 1,), (nb,)), (dims, dims), precision,
                           preferred_element_type)
    shape = shape_of(out)
    if a_vec:
        shape = shape[:-2] + shape[-1:]
    if b_vec:
        shape = shape[:-1]
    return lax.reshape(out, shape)


def dot(a, b, *, precision=None, preferred_element_type=None):
    """numpy.dot: scalars multiply; otherwise the last axis of a against the second-to-last of b
    (its only axis when 1-D)."""
    a, b = promote_operands("dot", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return uf.multiply(a, b)
    kb = 0 if len(sb) == 1 else len(sb) - 2
    if sa[-1] != sb[kb]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {len(sa) - 1}) "
                         f"!= {sb[kb]} (dim {kb})")
    return _dot_general(a, b, ((len(sa) - 1,), (kb,)), precision=precision,
                        preferred_element_type=preferred_element_type)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    """Dot product of the flattened arrays, conjugating the first."""
    a, b = promote_operands("vdot", a, b)
    a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),))
    b = lax.reshape(b, (int(np.prod(shape_of(b), dtype=np.int64)),))
    return dot(uf.conjugate(a), b, precision=precision,
               preferred_element_type=preferred_element_type)


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    """Conjugated dot product along `axis`, broadcasting the other axes."""
    a, b = promote_operands("vecdot", x1, x2)
    return _sum(uf.multiply(uf.conjugate(a), b), axis=axis)


def inner(a, b, *, precision=None, preferred_element_type=None):
    """Sum product over the last axes of a and b."""
    a, b = promote_operands("inner", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return uf.multiply(a, b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: shapes {sa} and {sb} not aligned: last dimensions "
                         f"{sa[-1]} != {sb[-1]}")
    return _dot_general(a, b, ((len(sa) - 1,), (len(sb) - 1,)), precision=precision,
                        preferred_element_type=preferred_element_type)


def outer(a, b, out=None):
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.outer is not supported")
    a, b = promote_operands("outer", a, b)
    a = lax.reshape(a, (int(np.prod(shape_of(a))), 1))
    b = lax.reshape(b, (1, int(np.prod(shape_of(b)))))
    return uf.multiply(a, b)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """Sum products over the axes `axes` names: an int N (last N of a, first N of b) or a pair
    of axis sequences."""
    a, b = promote_operands("tensordot", a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(na, nb):
            raise ValueError(f"tensordot: axes={n} must be between 0 and the smaller rank "
                             f"({min(na, nb)})")
        ca, cb = tuple(range(na - n, na)), tuple(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair of axis sequences, got "
                            f"{axes!r}") from None
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: the axes of a {ax_a} and of b {ax_b} must pair up")
        ca = tuple(canonicalize_axis(i, na) for i in ax_a)
        cb = tuple(canonicalize_axis(i, nb) for i in ax_b)
    for i, j in zip(ca, cb):
        if shape_of(a)[i] != shape_of(b)[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: a has shape {shape_of(a)} "
                             f"(axes {ca}), b has shape {shape_of(b)} (axes {cb})")
    return _dot_general(a, b, (ca, cb), precision=precision,
                        preferred_element_type=preferred_element_type)


def kron(a, b):
    a, b = promote_operands("kron", a, b)
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a = lax.reshape(a, tuple(v for n in sa for v in (n, 1)))
    b = lax.reshape(b, tuple(v for n in sb for v in (1, n)))
    return lax.reshape(uf.multiply(a, b), tuple(m * n for m, n in zip(sa, sb)))
