"""jax.lax's type aliases for dimension-number arguments, as JAX 0.10.2 spells them (for
annotations in programs that port: they check nothing at run time)."""
from __future__ import annotations

from typing import Sequence, Union

from spmd.transforms.lax.convolution import ConvDimensionNumbers
from spmd.transforms.lax.dot import Precision

# ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]

# What conv_general_dilated accepts as dimension_numbers: specs like ("NCHW", "OIHW", "NCHW"),
# the parsed numbers, or None (the default layout)
ConvGeneralDilatedDimensionNumbers = Union[tuple[str, str, str], ConvDimensionNumbers, None]

# What `precision=` accepts: a Precision or its name, one per operand, or None (the default)
PrecisionLike = Union[None, str, Precision, tuple[str, str], tuple[Precision, Precision]]
