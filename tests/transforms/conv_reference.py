"""NumPy references for convolutions and window reductions, written from their definitions
(dilate the input, pad it, slide the dilated window, reduce each window) with explicit loops over
output positions: the oracles of the convolution and reduce_window tests."""
from __future__ import annotations

import itertools

import numpy as np


def _dilate(x, dilation, axes, fill):
    """Insert `d - 1` copies of `fill` between neighbours along each of `axes`."""
    shape = list(x.shape)
    for a, d in zip(axes, dilation):
        shape[a] = (shape[a] - 1) * d + 1 if shape[a] else 0
    out = np.full(shape, fill, x.dtype)
    index = [slice(None)] * x.ndim
    for a, d in zip(axes, dilation):
        index[a] = slice(None, None, d)
    out[tuple(index)] = x
    return out


def _pad(x, padding, axes, fill):
    """Pad (positive) or crop (negative) each of `axes` by its (low, high) pair."""
    widths = [(0, 0)] * x.ndim
    for a, (lo, hi) in zip(axes, padding):
        widths[a] = (max(lo, 0), max(hi, 0))
    x = np.pad(x, widths, constant_values=fill)
    index = [slice(None)] * x.ndim
    for a, (lo, hi) in zip(axes, padding):
        index[a] = slice(max(-lo, 0), x.shape[a] - max(-hi, 0))
    return x[tuple(index)]


def _windows(sizes, window, strides):
    """Output positions of a window of `window` (already dilated) over `sizes`."""
    counts = [max(0, (n - k) // s + 1) if n >= k else 0 for n, k, s in zip(sizes, window, strides)]
    return counts, itertools.product(*map(range, counts))


def conv(lhs, rhs, strides, padding, lhs_dilation=None, rhs_dilation=None,
         specs=None, feature_group_count=1, batch_group_count=1):
    """conv_general_dilated from its definition. `specs` = (lhs, rhs, out) position tuples:
    (batch, feature, *spatial), (out feature, in feature, *spatial), (batch, feature, *spatial)."""
    n = lhs.ndim - 2
    specs = specs or (tuple(range(n + 2)),) * 3
    lhs_dilation, rhs_dilation = lhs_dilation or (1,) * n, rhs_dilation or (1,) * n
    x, w = np.transpose(lhs, specs[0]), np.transpose(rhs, specs[1])
    spatial = range(2, n + 2)
    x = _pad(_dilate(x, lhs_dilation, spatial, 0), padding, spatial, 0)
    window = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rhs_dilation)]
    counts, positions = _windows(x.shape[2:], window, strides)
    batch, features = x.shape[:2]
    out_features, in_features = w.shape[:2]
    g = max(feature_group_count, batch_group_count)
    out = np.zeros((batch // batch_group_count, out_features, *counts), np.result_type(lhs, rhs))
    kernel = w.reshape(g, out_features // g, in_features, -1)
    for pos in positions:
        patch = x[(slice(None), slice(None)) + tuple(
            slice(p * s, p * s + k, d) for p, s, k, d in zip(pos, strides, window, rhs_dilation))]
        patch = patch.reshape(batch, features, -1)
        if batch_group_count > 1:  # group j of the batch meets group j of the output features
            groups = patch.reshape(g, batch // g, features, -1)
            value = np.einsum("gbcs,gocs->bgo", groups, kernel)
        else:  # group j of the input features meets group j of the output features
            groups = patch.reshape(batch, g, features // g, -1)
            value = np.einsum("bgcs,gocs->bgo", groups, kernel)
        out[(slice(None), slice(None)) + pos] = value.reshape(out.shape[:2])
    return np.transpose(out, np.argsort(specs[2]))


def reduce_window(x, init, op, window_dimensions, strides, padding, base_dilation=None,
                  window_dilation=None):
    """reduce_window from its definition: `op` a NumPy ufunc (np.add, np.maximum, ...)."""
    axes = range(x.ndim)
    base_dilation = base_dilation or (1,) * x.ndim
    window_dilation = window_dilation or (1,) * x.ndim
    x = _pad(_dilate(x, base_dilation, axes, init), padding, axes, init)
    window = [(k - 1) * d + 1 for k, d in zip(window_dimensions, window_dilation)]
    counts, positions = _windows(x.shape, window, strides)
    out = np.full(counts, init, x.dtype)
    for pos in positions:
        patch = x[tuple(slice(p * s, p * s + k, d)
                        for p, s, k, d in zip(pos, strides, window, window_dilation))]
        out[pos] = op.reduce(patch.ravel(), initial=init)
    return out
