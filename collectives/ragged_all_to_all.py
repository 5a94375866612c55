"""ragged_all_to_all: all_to_all of ragged slices (`lax.ragged_all_to_all`, JAX 0.10.2).

Every participant sends slices `operand[input_offsets[i]:][:send_sizes[i]]` (slice i goes to
participant i // (K / axis size)) and writes what it receives into a copy of `output`, at the
offsets the senders give (`output_offsets`, read on the sender's side) with sizes `recv_sizes`.

XLA's CPU compiler in jaxlib 0.10.2 cannot build it (its `ragged-all-to-all` crashes the
compiler; JAX runs it on GPU and TPU only), so the lowering raises NotImplementedError before
anything reaches XLA. Everything else is JAX's: the shape rule and its errors, the JVP (linear
in operand and output together), the transpose, and the batching rule over an axis the
collective does not name.
"""
from __future__ import annotations

import numpy as np

from spmd.collectives.all_to_all import all_to_all
from spmd.collectives.axes import axis_size, canonical_groups, canonical_names, check_pure_names
from spmd.transforms import batching, core, dtypes, lax
from spmd.transforms.batching import batching_rules, bdim_at_front, moveaxis
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import Zero, instantiate, jvp_rules, linear_primitives
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules

ragged_all_to_all_p = Primitive("ragged_all_to_all", collective=True)

NOT_ON_CPU = ("ragged_all_to_all cannot run on this backend: XLA's CPU compiler in jaxlib "
              "0.10.2 has no ragged-all-to-all (JAX runs it on GPU and TPU only). Use "
              "spmd.lax.all_to_all on chunks padded to one size instead.")
_OFFSETS = ("input_offsets", "send_sizes", "output_offsets", "recv_sizes")


def ragged_all_to_all(operand, output, input_offsets, send_sizes, output_offsets, recv_sizes,
                      *, axis_name, axis_index_groups=None):
    """Send ragged slices of `operand` to the participants of `axis_name` and return `output`
    with the received slices written in (see the module's docstring; JAX's semantics)."""
    args = (operand, output, input_offsets, send_sizes, output_offsets, recv_sizes)
    _check_offsets([core.get_aval(a) for a in args[2:]])
    names = canonical_names(axis_name)
    check_pure_names(names, "ragged_all_to_all")
    axis_size(names)  # an unbound name is an error here, before any program is built
    groups = canonical_groups(axis_index_groups, names, "ragged_all_to_all")
    return ragged_all_to_all_p.bind(*args, axis_name=names, axis_index_groups=groups)


# ---------------------------------------------------------------- shape rule
def _check_offsets(avals):
    """JAX's checks of the four index arrays, in its words."""
    for what, aval in zip(_OFFSETS, avals):
        if not dtypes.issubdtype(aval.dtype, np.integer):
            raise ValueError(f"ragged_all_to_all {what} must be integer type.")
    for what, aval in zip(_OFFSETS, avals):
        if len(aval.shape) != 1 or aval.shape[0] < 1:
            raise ValueError(f"ragged_all_to_all {what} must be rank 1 with positive dimension "
                             f"size, but got shape {tuple(aval.shape)}")


def _ragged_aval(operand, output, *offsets, axis_name, axis_index_groups):
    _check_offsets(offsets)
    return output.update(weak_type=False)


# ---------------------------------------------------------------- lowering
def _ragged_lowering(ctx, *args, axis_name, axis_index_groups):
    raise NotImplementedError(NOT_ON_CPU)


# ---------------------------------------------------------------- JVP and transpose
def _ragged_jvp(primals, tangents, **params):
    operand, output, *offsets = primals
    out = ragged_all_to_all_p.bind(*primals, **params)
    d_operand, d_output = tangents[:2]
    if type(d_operand) is Zero and type(d_output) is Zero:
        return out, Zero(core.get_aval(out))
    d_operand = instantiate(d_operand, core.get_aval(operand))
    d_output = instantiate(d_output, core.get_aval(output))
    return out, ragged_all_to_all_p.bind(d_operand, d_output, *offsets, **params)


def _ragged_transpose(ct, operand, output, input_offsets, send_sizes, output_offsets,
                      recv_sizes, *, axis_name, axis_index_groups):
    if type(ct) is Zero:
        return [None] * 6
    # where this participant's received slices start, and where its sent ones were read
    written_at = all_to_all(output_offsets, axis_name, 0, 0, tiled=True,
                            axis_index_groups=axis_index_groups)
    read_at = all_to_all(input_offsets, axis_name, 0, 0, tiled=True,
                         axis_index_groups=axis_index_groups)
    operand_ct = output_ct = None
    if is_undefined(operand):
        aval = operand.aval
        zeros = lax.full(aval.shape, 0, aval.dtype)
        # the received slices go back to their senders, into the rows they were read from
        operand_ct = ragged_all_to_all_p.bind(ct, zeros, written_at, recv_sizes, read_at,
                                              send_sizes, axis_name=axis_name,
                                              axis_index_groups=axis_index_groups)
    if is_undefined(output):
        # rows overwritten by received data carry no cotangent to `output`
        ct_aval = core.get_aval(ct)
        index = core.get_aval(written_at)
        grid = (ct_aval.shape[0], index.shape[0])  # (output row, received slice)
        rows = lax.broadcasted_iota(index.dtype, grid, 0)
        starts = lax.broadcast_in_dim(written_at, grid, (1,))
        sizes = lax.convert_element_type(recv_sizes, index.dtype)
        ends = lax.add(starts, lax.broadcast_in_dim(sizes, grid, (1,)))
        written = lax.reduce_or(lax.bitwise_and(lax.ge(rows, starts), lax.lt(rows, ends)), (1,))
        written = lax.broadcast_in_dim(written, ct_aval.shape, (0,))
        output_ct = lax.select(written, lax.full(ct_aval.shape, 0, ct_aval.dtype), ct)
    return [operand_ct, output_ct, None, None, None, None]


# ---------------------------------------------------------------- batching
def _ragged_batch(frame, args, dims, *, axis_name, axis_index_groups):
    if frame.name in axis_name or axis_index_groups is not None:
        raise NotImplementedError(
            f"ragged_all_to_all under vmap is supported only over an axis it does not name and "
            f"without axis_index_groups (as in JAX); got the vmap axis {frame.name!r}, axis "
            f"names {axis_name} and axis_index_groups {axis_index_groups}")
    size = frame.size
    operand, output = (bdim_at_front(x, d, size) for x, d in zip(args[:2], dims[:2]))
    n, m = core.get_aval(operand).shape[1], core.get_aval(output).shape[1]

    def per_slice_then_batch(x, d):  # (K, batch): a slice's entries over the batch together
        return batching.broadcast_batch(x, size, 1) if d is None else moveaxis(x, d, 1)

    def shifted(x, d, rows):  # offsets into the merged (batch * rows) leading axis
        x = per_slice_then_batch(x, d)
        aval = core.get_aval(x)
        shift = lax.mul(lax.broadcasted_iota(aval.dtype, aval.shape, 1),
                        lax.full(aval.shape, rows, aval.dtype))
        return lax.add(x, shift)
    input_offsets = shifted(args[2], dims[2], n)
    send_sizes = per_slice_then_batch(args[3], dims[3])
    output_offsets = shifted(args[4], dims[4], m)
    recv_sizes = per_slice_then_batch(args[5], dims[5])

    def merge(x):
        shape = core.get_aval(x).shape
        return lax.reshape(x, (shape[0] * shape[1],) + tuple(shape[2:]))
    merged = [merge(x) for x in (operand, output, input_offsets, send_sizes, output_offsets,
                                 recv_sizes)]
    out = ragged_all_to_all_p.bind(*merged, axis_name=axis_name, axis_index_groups=None)
    shape = core.get_aval(out).shape
    return lax.reshape(out, (size, shape[0] // size) + tuple(shape[1:])), 0


# ---------------------------------------------------------------- registration
ragged_all_to_all_p.def_abstract_eval(_ragged_aval)
lowering_rules[ragged_all_to_all_p] = _ragged_lowering
jvp_rules[ragged_all_to_all_p] = _ragged_jvp
linear_primitives.add(ragged_all_to_all_p)  # linear in operand and output together
transpose_rules[ragged_all_to_all_p] = _ragged_transpose
batching_rules[ragged_all_to_all_p] = _ragged_batch
batching.axis_primitives[ragged_all_to_all_p] = lambda params: params["axis_name"]
