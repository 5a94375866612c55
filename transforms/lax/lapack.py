"""LAPACK's kernels as one primitive, `lapack_call`, and the matrix helpers the decompositions'
rules are written with (batched matmul, adjoint, triangles, identity).

jaxlib registers each LAPACK routine for CPU as a typed-FFI custom call (backend.lapack_target)
that takes and returns batches of column-major matrices ([..., m, n]: the leading axes are the
batch). `lapack_call` is only ever bound inside the lowerings of transforms/lax/linalg.py's
primitives, which own the differentiation rules; its own JVP refuses.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core, dtypes
from spmd.transforms.batching import batching_rules, bdim_at_front
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.lax.dot import dot_general
from spmd.transforms.lax.reductions import reduce_sum
from spmd.transforms.lax.structural import broadcast_in_dim, broadcasted_iota, transpose
from spmd.transforms.lowering import lowering_rules

LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))

lapack_call_p = Primitive("lapack_call", multiple_results=True)
lapack_call_p.def_abstract_eval(lambda *avals, routine, attrs, out_avals, typed: list(out_avals))


def _layout(ndim: int, matrix: bool) -> str:
    """A layout attribute: column-major in the last two axes for matrices, row-major otherwise."""
    order = ((ndim - 2, ndim - 1) + tuple(range(ndim - 3, -1, -1)) if matrix
             else tuple(range(ndim - 1, -1, -1)))
    return f"dense<[{', '.join(map(str, order))}]> : tensor<{ndim}xindex>"


def _attribute(name, value) -> str:
    """LAPACK's one-character options are ui8 (uplo="L"), its flags i1 and its integer
    arguments i32."""
    if isinstance(value, str):
        return f"{name} = {ord(value)} : ui8"
    if isinstance(value, bool):  # ormqr's left and transpose
        return f"{name} = {'true' if value else 'false'}"
    return f"{name} = {int(value)} : i32"


def _lapack_call_lowering(ctx, *operands, routine, attrs, out_avals, typed):
    rank = max(a.ndim for a in ctx.in_avals)  # the matrices: the operands of highest rank
    dtype = next(a.dtype for a in ctx.in_avals if a.ndim == rank)
    target = backend.lapack_target(routine, dtype if typed else None)
    layouts = [[_layout(a.ndim, a.ndim == rank) for a in avals]
               for avals in (ctx.in_avals, out_avals)]
    config = ", ".join(_attribute(name, value) for name, value in attrs)
    outs = ctx.op("stablehlo.custom_call", list(operands), out_avals=list(out_avals), attrs=(
        f'api_version = 4 : i32, call_target_name = "{target}", backend_config = {{{config}}}, '
        f"operand_layouts = [{', '.join(layouts[0])}], "
        f"result_layouts = [{', '.join(layouts[1])}]"))
    return outs if len(out_avals) > 1 else [outs]


def _lapack_call_batch(axis, args, dims, *, routine, attrs, out_avals, typed):
    args = [bdim_at_front(x, d, axis.size) for x, d in zip(args, dims)]
    out_avals = tuple(a.update(shape=(axis.size,) + a.shape) for a in out_avals)
    outs = lapack_call_p.bind(*args, routine=routine, attrs=attrs, out_avals=out_avals,
                              typed=typed)
    return outs, [0] * len(outs)


def _lapack_call_jvp(primals, tangents, **params):
    raise NotImplementedError("lapack_call is differentiated through the decomposition that "
                              "binds it (cholesky, lu, qr, eigh, svd), never directly")


lowering_rules[lapack_call_p] = _lapack_call_lowering
batching_rules[lapack_call_p] = _lapack_call_batch
jvp_rules[lapack_call_p] = _lapack_call_jvp


def def_batch_at_front(prim: Primitive):
    """The batching rule of a primitive over operands that share their batch axes (a matrix,
    its factors, right-hand sides): the vmapped axis moves to the front of every operand."""
    def rule(axis, args, dims, **params):
        out = prim.bind(*(bdim_at_front(x, d, axis.size) for x, d in zip(args, dims)), **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)
    batching_rules[prim] = rule


def def_no_derivative(prim: Primitive):
    """The JVP rule of a decomposition JAX does not differentiate either (schur, hessenberg,
    householder_product, tridiagonal): it says so, in JAX's words, when a tangent reaches it."""
    def rule(primals, tangents, **params):
        outs = prim.bind(*primals, **params)
        if any(type(t) is not Zero for t in tangents):
            raise NotImplementedError(
                f"Differentiation rule for '{prim.name}' not implemented (as in JAX); "
                f"differentiate a function that does not go through {prim.name}, or stop the "
                f"gradient before it (lax.stop_gradient)")
        zeros = [Zero(core.get_aval(o)) for o in (outs if prim.multiple_results else [outs])]
        return outs, zeros if prim.multiple_results else zeros[0]
    jvp_rules[prim] = rule


def lapack_call(*operands, routine: str, out_avals, typed: bool = True, **attrs):
    """LAPACK's `routine` on `operands`; `attrs` are its one-character options (uplo="L") and
    integer arguments (low=1). A `typed` routine has one kernel per dtype (getrf: sgetrf...),
    chosen by the dtype of the matrices (the operands of highest rank)."""
    return lapack_call_p.bind(*operands, routine=routine, attrs=tuple(sorted(attrs.items())),
                              out_avals=tuple(out_avals), typed=bool(typed))


# ---------------------------------------------------------------- matrix helpers
def check_matrix(who: str, aval: ShapedArray, square: bool = False) -> None:
    if aval.ndim < 2:
        raise ValueError(f"{who}: argument must have at least 2 dimensions (a batch of "
                         f"matrices [..., m, n]), got shape {aval.shape}")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"{who}: argument must be a batch of square matrices "
                         f"[..., n, n], got shape {aval.shape}")
    if aval.dtype not in LAPACK_DTYPES:
        raise TypeError(f"{who}: only float32, float64, complex64 and complex128 matrices are "
                        f"supported, got {aval.dtype}; convert the argument first")


def shape(x) -> tuple:
    return core.get_aval(x).shape


def full_like(x, value, shape_=None, dtype=None):
    aval = core.get_aval(x)
    return ew.full(aval.shape if shape_ is None else shape_, value,
                   aval.dtype if dtype is None else dtype)


def matmul(a, b):
    """[..., m, k] @ [..., k, n] with the same leading (batch) axes."""
    nd = len(shape(a))
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def mT(x):
    nd = len(shape(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def conj(x):
    return ew.conj(x) if dtypes.is_complex(core.get_aval(x).dtype) else x


def mH(x):
    return conj(mT(x))


def _diagonal_offsets(x):
    """col - row for every element of the batch of matrices `x`."""
    s = shape(x)
    return ew.sub(broadcasted_iota(np.int32, s, len(s) - 1),
                  broadcasted_iota(np.int32, s, len(s) - 2))


def _where_offsets(x, keep):
    offsets = _diagonal_offsets(x)
    return ew.select(keep(offsets, full_like(offsets, 0)), x, full_like(x, 0))


def tril(x, k: int = 0):
    return _where_offsets(x, lambda d, z: ew.le(d, ew.add(z, full_like(z, k))))


def triu(x, k: int = 0):
    return _where_offsets(x, lambda d, z: ew.ge(d, ew.add(z, full_like(z, k))))


def eye_like(x):
    """Identity matrices of x's shape and dtype."""
    offsets = _diagonal_offsets(x)
    return ew.convert_element_type(ew.eq(offsets, full_like(offsets, 0)), core.get_aval(x).dtype)


def diagonal(x):
    """[..., n, n] -> [..., n]: the main diagonal."""
    return reduce_sum(_where_offsets(x, ew.eq), (len(shape(x)) - 1,))


def diag_matrix(d, like):
    """[..., n] -> [..., n, n] with d on the diagonal, in the shape of `like`."""
    s = shape(like)
    spread = broadcast_in_dim(d, s, tuple(range(len(s) - 2)) + (len(s) - 1,))
    return ew.mul(spread, eye_like(like))


def nan_where_failed(x, ok):
    """x, with the matrices whose `ok` (one bool per matrix) is False filled with NaN."""
    s = shape(x)
    ok = broadcast_in_dim(ok, s, tuple(range(len(shape(ok)))))
    return ew.select(ok, x, full_like(x, np.nan))


def info_ok(info, comparison=ew.eq):
    return comparison(info, full_like(info, 0))
