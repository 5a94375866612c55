"""jax.numpy.histogram2d and histogramdd: counts of points in a grid of bins, one set of edges
per dimension, built from the one-dimensional histogram's edges and bin placement."""
from __future__ import annotations

import builtins

import numpy as np

from spmd.numpy import _shape as sh
from spmd.numpy import _ufuncs as uf
from spmd.numpy._core import asarray_value, promote_joined, promote_to_inexact, shape_of
from spmd.numpy._selection import where
from spmd.numpy._statistics import bin_index, bincount, histogram_bin_edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """(counts of shape (bins_0, ..., bins_{D-1}), [edges per dimension]) for N points in D
    dimensions, sample of shape (N, D); bins and range are one value or one per dimension."""
    (sample,) = promote_to_inexact("histogramdd", sample)
    if len(shape_of(sample)) != 2:
        raise ValueError(f"histogramdd: sample must be 2-d (N points, D dimensions), got shape "
                         f"{shape_of(sample)}")
    n_points, n_dims = shape_of(sample)
    if isinstance(bins, (int, np.integer)):
        bins = [bins] * n_dims
    if len(bins) != n_dims:
        raise ValueError(f"histogramdd: bins must be an int or one entry per dimension "
                         f"({n_dims}), got {len(bins)}")
    ranges = [None] * n_dims if range is None else list(range)
    if len(ranges) != n_dims:
        raise ValueError(f"histogramdd: range must be None or one (min, max) per dimension "
                         f"({n_dims}), got {len(ranges)}")
    edges = [histogram_bin_edges(sample[:, d], bins[d], ranges[d]) for d in builtins.range(n_dims)]
    sizes = tuple(shape_of(e)[0] - 1 for e in edges)
    flat = asarray_value(0)
    inside = True
    for d, e in enumerate(edges):
        idx, ok = bin_index(sample[:, d], e)
        flat = uf.add(uf.multiply(flat, sizes[d]), idx)
        inside = uf.logical_and(inside, ok)
    total = int(np.prod(sizes))
    flat = where(inside, flat, total)  # out-of-range points fall past bincount's length
    w = None if weights is None else sh.ravel(asarray_value(weights))
    counts = sh.reshape(bincount(flat, w, length=total), sizes)
    if density:
        counts = uf.divide(counts, counts.sum())
        for d, e in enumerate(edges):
            widths = uf.subtract(e[1:], e[:-1])
            counts = uf.divide(counts, sh.reshape(widths, tuple(
                -1 if k == d else 1 for k in builtins.range(n_dims))))
    return counts, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """(counts, x edges, y edges) of the points (x[i], y[i])."""
    x, y = (promote_to_inexact("histogram2d", v)[0] for v in promote_joined("histogram2d", [x, y]))
    if len(shape_of(x)) != 1 or shape_of(x) != shape_of(y):
        raise ValueError(f"histogram2d: x and y must be 1-d of the same length, got shapes "
                         f"{shape_of(x)} and {shape_of(y)}")
    if not isinstance(bins, (int, np.integer)) and len(bins) != 2:
        bins = [bins, bins]  # one array of edges shared by both dimensions
    counts, (x_edges, y_edges) = histogramdd(sh.stack([x, y], axis=1), bins, range, weights,
                                             density)
    return counts, x_edges, y_edges

