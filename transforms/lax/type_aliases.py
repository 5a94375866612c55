"""jax.lax's type aliases for dimension-number arguments, as JAX 0.10.2 spells them (for
annotations in programs that port: they check nothing at run time)."""
from __future__ import annotations

from typing import Sequence, Union

from spmd.transforms.lax.convolution import ConvDimensionNumbers

# ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]

# What conv_general_dilated accepts as dimension_numbers: specs like ("NCHW", "OIHW", "NCHW"),
# the parsed numbers, or None (the default layout)
ConvGeneralDilatedDimensionNumbers = Union[tuple[str, str, str], ConvDimensionNumbers, None]
