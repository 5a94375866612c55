"""Every misuse of a lax operation raises an error that says what is wrong (with the shapes,
dtypes or axes involved) and what to do."""
import numpy as np
import pytest

import spmd
from spmd.transforms import lax
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.lax.sorting import sort_p
from spmd.transforms.transpose import UndefinedPrimal, transpose_rules

f32 = np.ones((2, 3), np.float32)
i32 = np.ones((2, 3), np.int32)
v4 = np.ones(4, np.float32)
RULELESS = Primitive("ruleless")  # registers no rule anywhere (so the coverage walk never sees it)

ERRORS = [
    # elementwise
    ("add_shapes", lambda: lax.add(f32, v4), TypeError,
     r"add got operands of different shapes \(2, 3\), \(4,\); broadcast them first"),
    ("add_dtypes", lambda: lax.add(f32, i32), TypeError,
     r"add got operands of different dtypes float32, int32; convert them first"),
    ("sin_int", lambda: lax.sin(i32), TypeError,
     r"sin does not accept int32 operands; it takes float"),
    ("bitwise_float", lambda: lax.bitwise_and(f32, f32), TypeError, r"and does not accept float32"),
    ("select_pred_dtype", lambda: lax.select(i32, f32, f32), TypeError,
     r"select's predicate must be bool, got int32"),
    ("select_pred_shape", lambda: lax.select(np.ones(3, bool), f32, f32), TypeError,
     r"select's predicate shape \(3,\) must be \(\) or match the cases' shape \(2, 3\)"),
    ("eq_to_complex", lambda: lax.eq_to_p.bind(f32 * 1j, f32 * 1j), TypeError,
     r"eq_to does not accept complex\d+ operands; it takes float"),
    ("clz_float", lambda: lax.clz(f32), TypeError,
     r"clz does not accept float32 operands; it takes int or uint"),
    ("zeta_int", lambda: lax.zeta(i32, i32), TypeError, r"zeta does not accept int32 operands"),
    ("square_bool", lambda: lax.square(np.ones(2, bool)), TypeError,
     r"square does not accept bool operands"),
    ("reduce_precision_bits", lambda: lax.reduce_precision(f32, 0, 7), ValueError,
     r"reduce_precision needs at least 1 exponent bit and 0 mantissa bits, got exponent_bits=0"),
    ("clamp_bound_shape", lambda: lax.clamp(v4, f32, np.float32(1)), TypeError,
     r"clamp requires min.shape == operand.shape or min.shape == \(\), got min.shape=\(4,\)"),
    # shapes
    ("broadcast_in_dim_rank", lambda: lax.broadcast_in_dim(f32, (2, 3), (0,)), TypeError,
     r"broadcast_in_dim: operand of shape \(2, 3\) needs 2 broadcast_dimensions, got \(0,\)"),
    ("broadcast_in_dim_size", lambda: lax.broadcast_in_dim(f32, (2, 4), (0, 1)), TypeError,
     r"cannot broadcast operand of shape \(2, 3\) to shape \(2, 4\)"),
    ("reshape_size", lambda: lax.reshape(f32, (4, 2)), TypeError,
     r"cannot reshape an array of shape \(2, 3\) \(6 elements\) into shape \(4, 2\)"),
    ("reshape_negative", lambda: lax.reshape(f32, (-1, 2)), TypeError,
     r"reshape: shape \(-1, 2\) must be a tuple of non-negative ints"),
    ("transpose_perm", lambda: lax.transpose(f32, (0, 0)), TypeError,
     r"permutation \(0, 0\) is not a permutation of the 2 axes of an array of shape \(2, 3\)"),
    ("squeeze_size", lambda: lax.squeeze(f32, (0,)), ValueError,
     r"squeeze: cannot remove axis 0 of size 2 .* only axes of size 1 can be squeezed"),
    ("iota_dimension", lambda: lax.broadcasted_iota(np.int32, (2, 3), 2), ValueError,
     r"iota: dimension 2 out of range for shape \(2, 3\)"),
    # reductions
    ("reduce_axis", lambda: lax.reduce_sum(f32, 2), ValueError,
     r"axis 2 is out of bounds for an array of dimension 2"),
    ("reduce_duplicate_axes", lambda: lax.reduce_max(f32, (1, -1)), ValueError,
     r"duplicate axes in reduction: \(1, -1\)"),
    # dot
    ("dot_contracting", lambda: lax.dot(f32, f32), TypeError,
     r"dot_general: contracting dimensions do not match: lhs shape \(2, 3\) dims \(1,\), "
     r"rhs shape \(2, 3\) dims \(0,\)"),
    ("dot_dtypes", lambda: lax.dot(f32, np.ones((3, 2), np.int32)), TypeError,
     r"dot_general got operands of different dtypes float32 and int32; convert them first"),
    # slicing
    ("slice_rank", lambda: lax.slice(f32, (0,), (1,)), TypeError,
     r"slice: an operand of shape \(2, 3\) needs 2 start indices, limit indices and strides"),
    ("slice_bounds", lambda: lax.slice(f32, (0, 2), (2, 1)), ValueError,
     r"must satisfy 0 <= start <= limit <= size for an operand of shape \(2, 3\)"),
    ("slice_stride", lambda: lax.slice(f32, (0, 0), (2, 3), (1, 0)), ValueError,
     r"slice: strides must be positive, got \(1, 0\)"),
    ("slice_not_ints", lambda: lax.slice(f32, (0, 0.5), (2, 3)), TypeError,
     r"slice: start_indices must be a sequence of ints, got \(0, 0.5\)"),
    ("slice_in_dim_axis", lambda: lax.slice_in_dim(f32, 0, 1, axis=2), ValueError,
     r"slice_in_dim: axis 2 is out of bounds for an array of rank 2"),
    ("index_in_dim_bounds", lambda: lax.index_in_dim(f32, 3, axis=1), IndexError,
     r"index 3 is out of bounds for axis 1 with size 3"),
    ("dynamic_slice_count", lambda: lax.dynamic_slice(f32, (0,), (1, 1)), TypeError,
     r"dynamic_slice: an operand of shape \(2, 3\) needs 2 start indices \(one scalar per "
     r"dimension\), got 1"),
    ("dynamic_slice_float_index", lambda: lax.dynamic_slice(f32, (0, 1.0), (1, 1)), TypeError,
     r"dynamic_slice: start indices must be scalar integers, but index 1 is f32\[\]"),
    ("dynamic_slice_array_index",
     lambda: lax.dynamic_slice(f32, (0, np.zeros(2, np.int32)), (1, 1)), TypeError,
     r"start indices must be scalar integers, but index 1 is i32\[2\]"),
    ("dynamic_slice_2d_indices", lambda: lax.dynamic_slice(f32, np.zeros((1, 2), np.int32), (1, 1)),
     TypeError, r"start_indices must be a sequence of scalars or a 1-D array, got an array of "
     r"shape \(1, 2\)"),
    ("dynamic_slice_size", lambda: lax.dynamic_slice(f32, (0, 0), (3, 1)), TypeError,
     r"slice_sizes \(3, 1\) must have one size per dimension of the operand, each between 0 and "
     r"that dimension's size; the operand has shape \(2, 3\)"),
    ("dynamic_update_slice_fit", lambda: lax.dynamic_update_slice(f32, np.ones((3, 1), np.float32),
                                                                  (0, 0)), TypeError,
     r"the update of shape \(3, 1\) must have the operand's rank and fit inside the operand of "
     r"shape \(2, 3\)"),
    ("dynamic_update_slice_dtype", lambda: lax.dynamic_update_slice(f32, i32[:1], (0, 0)),
     TypeError,
     r"dynamic_update_slice: the update's dtype int32 must match the operand's float32"),
    ("concatenate_empty", lambda: lax.concatenate([], 0), TypeError,
     r"concatenate needs at least one operand"),
    ("concatenate_dtypes", lambda: lax.concatenate([f32, i32], 0), TypeError,
     r"concatenate: operands must share one dtype, got float32, int32; convert them first"),
    ("concatenate_shapes", lambda: lax.concatenate([f32, np.ones((2, 2), np.float32)], 0),
     TypeError,
     r"operands must have equal shapes except along dimension 0, got \(2, 3\), \(2, 2\)"),
    ("concatenate_dimension", lambda: lax.concatenate([f32, f32], 2), ValueError,
     r"concatenate: axis 2 is out of bounds for an array of rank 2"),
    ("pad_value_shape", lambda: lax.pad(f32, v4, ((0, 0, 0), (0, 0, 0))), TypeError,
     r"pad: padding_value must be a scalar, got shape \(4,\)"),
    ("pad_value_dtype", lambda: lax.pad(f32, np.int32(0), ((0, 0, 0), (0, 0, 0))), TypeError,
     r"pad: padding_value's dtype int32 must match the operand's float32; convert it first"),
    ("pad_config_rank", lambda: lax.pad(f32, np.float32(0), ((0, 0, 0),)), TypeError,
     r"padding_config needs one \(low, high, interior\) triple per dimension of the operand of "
     r"shape \(2, 3\)"),
    ("pad_not_triple", lambda: lax.pad(f32, np.float32(0), ((0, 0), (0, 0))), TypeError,
     r"each padding_config entry must be a \(low, high, interior\) triple"),
    ("pad_interior", lambda: lax.pad(f32, np.float32(0), ((0, 0, -1), (0, 0, 0))), ValueError,
     r"pad: interior padding must be non-negative"),
    ("pad_negative_size", lambda: lax.pad(f32, np.float32(0), ((-2, -1, 0), (0, 0, 0))), ValueError,
     r"gives a negative dimension for an operand of shape \(2, 3\)"),
    ("rev_duplicate", lambda: lax.rev(f32, (1, -1)), ValueError,
     r"rev: dimensions \(1, 1\) must be distinct axes of the operand of shape \(2, 3\)"),
    # cumulative
    ("cumsum_bool", lambda: lax.cumsum(np.ones(3, bool)), TypeError,
     r"cumsum does not accept dtype bool. Accepted dtypes are subtypes of number"),
    ("cumlogsumexp_int", lambda: lax.cumlogsumexp(i32), TypeError,
     r"cumlogsumexp does not accept dtype int32. Accepted dtypes are floating-point types"),
    ("cummax_axis", lambda: lax.cummax(f32, 2), ValueError,
     r"cummax: axis 2 is out of bounds for an array of rank 2"),
    # sorting
    ("sort_empty", lambda: lax.sort(()), TypeError, r"sort needs at least one operand"),
    ("sort_shapes", lambda: lax.sort((f32, v4)), TypeError,
     r"sort: all operands must have one shape, got \(2, 3\), \(4,\)"),
    ("sort_num_keys", lambda: lax.sort((f32, f32), num_keys=3), ValueError,
     r"sort: num_keys=3 must be between 1 and the number of operands \(2\)"),
    ("sort_scalar", lambda: lax.sort(np.float32(1)), ValueError,
     r"sort needs operands of rank >= 1, got a 0-d array"),
    ("sort_dimension", lambda: lax.sort(f32, 2), ValueError,
     r"sort: axis 2 is out of bounds for an array of rank 2"),
    ("top_k_too_many", lambda: lax.top_k(f32, 4), ValueError,
     r"top_k: k=4 must be between 0 and the size of the last axis \(3\)"),
    ("sort_transpose_keys", lambda: transpose_rules[sort_p](
        [f32, f32], UndefinedPrimal(ShapedArray((2, 3), np.float32)), f32, dimension=1,
        is_stable=True, num_keys=1), TypeError,
     r"sort is linear only in its non-key operands: the keys decide the permutation"),
    # argmax / argmin
    ("argmax_empty", lambda: lax.argmax(np.ones((2, 0), np.float32), 1, np.int32), ValueError,
     r"argmax: cannot take the argmax of an empty axis \(axis 1 of an array of shape \(2, 0\)\)"),
    ("argmin_complex", lambda: lax.argmin(np.ones(3, np.complex64), 0, np.int32), TypeError,
     r"argmin does not accept complex operands \(complex64\)"),
    ("argmax_index_dtype", lambda: lax.argmax(f32, 0, np.float32), TypeError,
     r"argmax: index_dtype must be an integer dtype, got float32"),
    ("argmax_axis", lambda: lax.argmax(f32, -3, np.int32), ValueError,
     r"argmax: axis -3 is out of bounds for an array of rank 2"),
    ("argmax_axis_type", lambda: lax.argmax(f32, 0.5, np.int32), TypeError,
     r"argmax: axis must be an int, got 0.5"),
    # a primitive without a rule names itself and the transform
    ("missing_jvp_rule", lambda: spmd.jvp(RULELESS.bind, (f32,), (f32,)), NotImplementedError,
     r"primitive 'ruleless' has no differentiation \(jvp/grad\) rule, so it cannot be used under"),
    ("missing_batching_rule", lambda: spmd.vmap(RULELESS.bind)(f32), NotImplementedError,
     r"primitive 'ruleless' has no batching \(vmap\) rule"),
]


@pytest.mark.parametrize("call, exc, match", [pytest.param(c, e, m, id=i) for i, c, e, m in ERRORS])
def test_error_text(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
