"""dot_general: contraction with batch dimensions, the one matrix-product primitive.

`dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`; the result has the
batch dimensions first, then lhs's free dimensions, then rhs's, as in XLA and JAX.

`precision` (JAX's `lax.Precision`, per operand) becomes XLA's precision_config: on GPUs it
chooses between TensorFloat-32 and full float32 products of float32 operands; the CPU computes
in float32 either way. Left out, `config.default_matmul_precision` (the context manager
`spmd.default_matmul_precision`) decides."""
from __future__ import annotations

import contextlib
import enum

import numpy as np

from spmd.transforms import caches, core
from spmd.transforms.config import config
from spmd.transforms.batching import batching_rules, moveaxis
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import defjvp, linear_primitives
from spmd.transforms.lax import dot_algorithm
from spmd.transforms.lax.elementwise import convert_element_type, mul
from spmd.transforms.lax.structural import broadcast_in_dim, reshape, transpose
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import is_undefined, transpose_rules


class Precision(enum.Enum):
    """How precisely a matrix product of float32 operands runs on an accelerator: DEFAULT
    (fastest: TensorFloat-32 on recent GPUs; aliases 'default', 'fastest', 'bfloat16'), HIGH
    ('high', 'tensorfloat32', 'bfloat16_3x') or HIGHEST (full float32: 'highest', 'float32')."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        return _PRECISION_NAMES.get(value)

    def __repr__(self):
        return f"Precision.{self.name}"

    def __str__(self):
        return self.name


_PRECISION_NAMES = {"highest": Precision.HIGHEST, "float32": Precision.HIGHEST,
                    "high": Precision.HIGH, "bfloat16_3x": Precision.HIGH,
                    "tensorfloat32": Precision.HIGH, "default": Precision.DEFAULT,
                    "bfloat16": Precision.DEFAULT, "fastest": Precision.DEFAULT}


def _one_precision(value):
    if isinstance(value, Precision):
        return value
    if isinstance(value, str) and value in _PRECISION_NAMES:
        return _PRECISION_NAMES[value]
    raise ValueError(f"precision must be None, a lax.Precision, one of the names "
                     f"{sorted(_PRECISION_NAMES)} or a pair of these (one per operand); got "
                     f"{value!r}")


def canonicalize_precision(precision):
    """None, a (lhs, rhs) pair of Precisions or a dot algorithm, from what JAX accepts: None (the
    configured default_matmul_precision), a Precision or its name, a pair of them, or a
    DotAlgorithm, a DotAlgorithmPreset or its name."""
    if precision is None:
        precision = config.default_matmul_precision
        if precision is None:
            return None
    precision = dot_algorithm.preset_named(precision) or precision
    if dot_algorithm.is_algorithm(precision):
        dot_algorithm.check_runs_on_cpu(precision)
        return precision
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        return (_one_precision(precision[0]), _one_precision(precision[1]))
    one = _one_precision(precision)
    return (one, one)


def _check_default_precision(value):
    if value is not None and dot_algorithm.preset_named(value) is None:
        _one_precision(value)
    caches.clear_caches()  # programs traced under the old default must trace again


config.values.setdefault("default_matmul_precision", None)
config.on_change("default_matmul_precision", _check_default_precision)


@contextlib.contextmanager
def default_matmul_precision(precision):
    """Within the block, matrix products without `precision=` use this one (JAX's
    `jax.default_matmul_precision`: 'default', 'high', 'highest', 'tensorfloat32'...)."""
    before = config.default_matmul_precision
    config.update("default_matmul_precision", precision)
    try:
        yield
    finally:
        config.update("default_matmul_precision", before)


def _free(ndim, contract, batch):
    return [i for i in range(ndim) if i not in contract and i not in batch]


def _dot_general_aval(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: contracting {lc}/{rc} and batch {lb}/{rb} dimensions must "
                        "pair up")
    for a, b, what in [(lc, rc, "contracting"), (lb, rb, "batch")]:
        for i, j in zip(a, b):
            if not (0 <= i < lhs.ndim and 0 <= j < rhs.ndim) or lhs.shape[i] != rhs.shape[j]:
                raise TypeError(f"dot_general: {what} dimensions do not match: lhs shape "
                                f"{lhs.shape} dims {a}, rhs shape {rhs.shape} dims {b}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general got operands of different dtypes {lhs.dtype} and "
                        f"{rhs.dtype}; convert them first (spmd.numpy promotes)")
    shape = ([lhs.shape[i] for i in lb] + [lhs.shape[i] for i in _free(lhs.ndim, lc, lb)]
             + [rhs.shape[i] for i in _free(rhs.ndim, rc, rb)])
    dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


def _dot_general_lowering(ctx, lhs, rhs, *, dimension_numbers, precision,
                          preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    fields = [(n, v) for n, v in [("lhs_batching_dimensions", lb), ("rhs_batching_dimensions", rb),
                                  ("lhs_contracting_dimensions", lc),
                                  ("rhs_contracting_dimensions", rc)] if v]
    body = ", ".join(f"{n} = [{', '.join(map(str, v))}]" for n, v in fields)
    attrs = f"dot_dimension_numbers = #stablehlo.dot<{body}>"
    if dot_algorithm.is_algorithm(precision):
        return _lower_with_algorithm(ctx, lhs, rhs, attrs, precision)
    if precision is not None:
        attrs += (", precision_config = ["
                  + ", ".join(f"#stablehlo<precision {p.name}>" for p in precision) + "]")
    return ctx.op("stablehlo.dot_general", [lhs, rhs], attrs=attrs)


def _lower_with_algorithm(ctx, lhs, rhs, attrs, algorithm):
    """The product in the algorithm's types: operands converted to the types it computes in,
    the result in its accumulation type, converted to the output's."""
    (lhs_aval, rhs_aval), out_aval = ctx.in_avals, ctx.out_avals[0]
    types = dot_algorithm.compute_types(algorithm, lhs_aval.dtype, rhs_aval.dtype, out_aval.dtype)

    def convert(x, aval, dtype):
        if np.dtype(dtype) == aval.dtype:
            return x, aval
        new = ShapedArray(aval.shape, dtype)
        return ctx.typed("stablehlo.convert", [x], [aval], new), new
    (lhs, lhs_aval), (rhs, rhs_aval) = convert(lhs, lhs_aval, types[0]), \
        convert(rhs, rhs_aval, types[1])
    acc_aval = ShapedArray(out_aval.shape, types[2])
    extra = dot_algorithm.algorithm_attr(algorithm)
    out = ctx.typed("stablehlo.dot_general", [lhs, rhs], [lhs_aval, rhs_aval], acc_aval,
                    attrs=attrs + (", " + extra if extra else ""))
    return convert(out, acc_aval, out_aval.dtype)[0]


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield list(range(start, start + len(x)))
        start += len(x)


def _transpose_lhs(ct, x_aval, y, dimension_numbers, precision, swap_ans=False):
    (xc, yc), (xb, yb) = dimension_numbers
    # a cotangent of a preferred_element_type wider than the operands: compute in it
    if core.get_aval(y).dtype != core.get_aval(ct).dtype:
        y = convert_element_type(y, core.get_aval(ct).dtype)
    y_ndim = core.get_aval(y).ndim
    x_kept = _free(x_aval.ndim, xc, xb)
    y_kept = _free(y_ndim, yc, yb)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    y_shape = core.get_aval(y).shape
    if all(y_shape[i] == 1 for i in y_kept):  # nothing to sum: an outer product
        ans_x = [d for d in range(len(xb) + len(x_kept) + len(y_kept))
                 if d not in ans_batch and d not in ans_y]
        ct_to_x = dict(zip(ans_batch, xb)) | dict(zip(ans_x, x_kept))
        y_to_x = dict(zip(yb, xb)) | dict(zip(yc, xc))
        return _outer_product(ct, ct_to_x, y, y_to_x, x_aval)
    dims = ((tuple(ans_y), tuple(y_kept)), (tuple(ans_batch), tuple(yb)))
    xc_sorted_by_y = [xc[i] for i in np.argsort(yc)]
    out_axes = tuple(int(i) for i in np.argsort(list(xb) + x_kept + xc_sorted_by_y))
    prod = dot_general(ct, y, dims, precision)
    return convert_element_type(transpose(prod, out_axes), x_aval.dtype)


def _outer_product(a, a_to_x, b, b_to_x, x_aval):
    """The cotangent of a dot_general operand when the other operand's free dimensions all have
    size 1 (per-example gradients, vmap of grad, are made of these): a product of broadcasts
    written directly in the operand's dimension order. As a dot followed by a transpose, XLA
    on CPU writes the product in the dot's order and then copies it into the transposed one.
    `a_to_x` maps the dimensions of `a` to those of the result; unmapped ones have size 1."""
    def spread(v, to_x):
        shape = core.get_aval(v).shape
        kept = sorted(to_x, key=to_x.get)  # v's dimensions in the result's order
        if kept != sorted(kept):
            v = transpose(reshape(v, [shape[d] for d in sorted(kept)]),
                          [sorted(kept).index(d) for d in kept])
        elif len(kept) != len(shape):
            v = reshape(v, [shape[d] for d in kept])
        return broadcast_in_dim(v, x_aval.shape, [to_x[d] for d in kept])
    return convert_element_type(mul(spread(a, a_to_x), spread(b, b_to_x)), x_aval.dtype)


def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, precision,
                           preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    if is_undefined(lhs) and is_undefined(rhs):
        raise TypeError("dot_general of two linear values is not linear: cannot transpose it")
    if is_undefined(lhs):
        return [_transpose_lhs(ct, lhs.aval, rhs, dimension_numbers, precision), None]
    swapped = ((rc, lc), (rb, lb))
    # the operands trade places (an algorithm names the same type for both)
    flipped = precision if precision is None or dot_algorithm.is_algorithm(precision) \
        else precision[::-1]
    return [None, _transpose_lhs(ct, rhs.aval, lhs, swapped, flipped, swap_ans=True)]


def _dot_general_batch(axis, args, dims, *, dimension_numbers, precision,
                       preferred_element_type):
    (lhs, rhs), (ld, rd) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers
    shift = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    if ld is not None and rd is not None:
        lhs, rhs = moveaxis(lhs, ld, 0), moveaxis(rhs, rd, 0)
        dn = ((shift(lc), shift(rc)), ((0,) + shift(lb), (0,) + shift(rb)))
        out_dim = 0
    elif ld is not None:
        lhs = moveaxis(lhs, ld, 0)
        dn = ((shift(lc), rc), (shift(lb), rb))
        out_dim = len(lb)
    else:
        rhs = moveaxis(rhs, rd, 0)
        dn = ((lc, shift(rc)), (lb, shift(rb)))
        lhs_ndim = core.get_aval(lhs).ndim
        out_dim = len(lb) + len(_free(lhs_ndim, lc, lb))
    return dot_general(lhs, rhs, dn, precision, preferred_element_type), out_dim


dot_general_p = Primitive("dot_general")
dot_general_p.def_abstract_eval(_dot_general_aval)
lowering_rules[dot_general_p] = _dot_general_lowering
defjvp(dot_general_p,
       lambda t, x, y, **p: dot_general_p.bind(t, y, **p),
       lambda t, x, y, **p: dot_general_p.bind(x, t, **p))
transpose_rules[dot_general_p] = _dot_general_transpose
linear_primitives.add(dot_general_p)  # in each operand, the other one known
batching_rules[dot_general_p] = _dot_general_batch


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(int(i) for i in lc), tuple(int(i) for i in rc)),
          (tuple(int(i) for i in lb), tuple(int(i) for i in rb)))
    if preferred_element_type is not None:
        preferred_element_type = np.dtype(preferred_element_type)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn,
                              precision=canonicalize_precision(precision),
                              preferred_element_type=preferred_element_type)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Matrix/vector product of 1-D or 2-D operands (lax.dot)."""
    return dot_general(lhs, rhs, (((core.get_aval(lhs).ndim - 1,), (0,)), ((), ())),
                       precision, preferred_element_type)
