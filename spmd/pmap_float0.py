"""float0 values through pmap: the tangents and gradients of integer values (float0, as in
JAX) hold no data and XLA has no type for them, so a pmap program neither takes nor returns
them. An argument of type float0 reaches the traced function as a host zero array of its
per-device shape; a float0 result is a host zero array of the shape JAX gives it (the mapped
axis of the local size where out_axes puts it)."""
from __future__ import annotations

import numpy as np

from spmd.transforms import dtypes


class Float0Values:
    """Where the float0 arguments and results of one pmap signature are, and their values."""

    def __init__(self, in_avals, per_device_in_avals, per_device_out_avals, out_dims, size: int):
        is0 = [a.dtype == dtypes.float0 for a in in_avals]
        self.inputs = any(is0)
        self._keep_in = [not z for z in is0]
        self._zeros_in = [np.zeros(a.shape, dtypes.float0) if z else None
                          for a, z in zip(per_device_in_avals, is0)]
        self._keep_out = [a.dtype != dtypes.float0 for a in per_device_out_avals]
        self.outputs = not all(self._keep_out)
        self._zeros_out = [None if keep else np.zeros(_mapped(a.shape, d, size), dtypes.float0)
                           for a, d, keep in zip(per_device_out_avals, out_dims, self._keep_out)]

    def kept(self, per_input: list) -> list:
        """The entries (one per argument) of the arguments the program takes."""
        return [x for x, keep in zip(per_input, self._keep_in) if keep] if self.inputs \
            else per_input

    def with_inputs(self, xs) -> list:
        """The per-device values of all arguments, given those of the ones the program takes."""
        if not self.inputs:
            return list(xs)
        it = iter(xs)
        return [next(it) if z is None else z for z in self._zeros_in]

    def kept_outputs(self, outs) -> list:
        return [o for o, keep in zip(outs, self._keep_out) if keep] if self.outputs else outs

    def with_outputs(self, results) -> list:
        it = iter(results)
        return [next(it) if z is None else z.copy() for z in self._zeros_out]


def _mapped(shape, dim, size) -> tuple:
    return shape if dim is None else shape[:dim] + (size,) + shape[dim:]
