"""Patch extraction and unshared (locally connected) convolution, built on conv_general_dilated
and dot_general as JAX builds them, so they take those primitives' rules (jvp, transpose,
batching, lowering) as they are.

conv_general_dilated_patches convolves with a one-hot kernel, one output channel per (input
channel, window position): the output's "C" dimension holds each flattened patch, ordered
"c" + the rhs spec's spatial letters. conv_general_dilated_local contracts those patches with a
kernel that has its own weights at every output position."""
from __future__ import annotations

import math

import numpy as np

from spmd.transforms import core
from spmd.transforms.lax.convolution import conv_dimension_numbers, conv_general_dilated
from spmd.transforms.lax.dot import Precision, canonicalize_precision, dot_general
from spmd.transforms.lax.structural import transpose


def _moveaxes(x, source, destination):
    """x with its axes `source` moved to `destination` (np.moveaxis's order)."""
    order = [d for d in range(core.get_aval(x).ndim) if d not in source]
    for dst, src in sorted(zip(destination, source)):
        order.insert(dst, src)
    return transpose(x, tuple(order))


def conv_general_dilated_patches(lhs, filter_shape, window_strides, padding, lhs_dilation=None,
                                 rhs_dilation=None, dimension_numbers=None, precision=None,
                                 preferred_element_type=None):
    """The patches conv_general_dilated with a kernel of spatial shape `filter_shape` would see:
    an array with the output's layout whose "C" dimension (of size C * prod(filter_shape))
    holds each receptive field flattened in the order "c" + the rhs spec's spatial letters."""
    aval = core.get_aval(lhs)
    filter_shape = tuple(int(d) for d in filter_shape)
    dnums = conv_dimension_numbers(aval.shape, (1, 1) + filter_shape, dimension_numbers)
    lhs_spec, rhs_spec, _ = dnums
    window = math.prod(filter_shape)
    channels = aval.shape[lhs_spec[1]]
    # output channel (c, w) of group c reads input channel c at window position w only
    one_hot = np.broadcast_to(np.eye(window, dtype=aval.dtype), (channels, window, window))
    kernel = np.moveaxis(one_hot.reshape((channels * window, 1) + filter_shape), (0, 1),
                         (rhs_spec[0], rhs_spec[1]))
    return conv_general_dilated(
        lhs, np.ascontiguousarray(kernel), window_strides, padding, lhs_dilation, rhs_dilation,
        dnums, feature_group_count=channels,
        precision=None if precision is None else (precision, Precision.DEFAULT),
        preferred_element_type=preferred_element_type)


def conv_general_dilated_local(lhs, rhs, window_strides, padding, filter_shape, lhs_dilation=None,
                               rhs_dilation=None, dimension_numbers=None, precision=None):
    """Unshared convolution: like conv_general_dilated, but `rhs` has separate weights at each
    output position; its spatial dimensions are the output's, and its "I" dimension is the
    flattened receptive field (ordered as conv_general_dilated_patches orders it)."""
    pair = canonicalize_precision(precision)
    patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                           lhs_dilation, rhs_dilation, dimension_numbers,
                                           None if pair is None else pair[0])
    _, rhs_spec, out_spec = conv_dimension_numbers(core.get_aval(lhs).shape,
                                                   (1, 1) + tuple(filter_shape), dimension_numbers)
    # every output position is a batch dimension of one product of its patch with its weights
    positions = list(out_spec[2:])
    rhs_positions = [rhs_spec[2:][i] for i in sorted(range(len(positions)),
                                                     key=lambda i: positions[i])]
    dims = (((out_spec[1],), (rhs_spec[1],)), (tuple(sorted(positions)), tuple(rhs_positions)))
    out = dot_general(patches, rhs, dims, precision)
    ndim = len(out_spec)
    return _moveaxes(out, (ndim - 2, ndim - 1), (out_spec[0], out_spec[1]))
