"""JAX's dot algorithms, the other kind of `precision=` a matrix product accepts: a
`DotAlgorithm` names the types the operands are rounded to, the accumulation type and how many
products emulate a wider one; a `DotAlgorithmPreset` (or its name, e.g. "BF16_BF16_F32") is one
of the known ones. XLA:CPU ignores algorithms it cannot run instead of refusing them, so, as JAX
does, only the presets it runs are accepted and the others are refused before compiling."""
from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from spmd.transforms import dtypes
from spmd.transforms.lowering import element_type


class DotAlgorithm(NamedTuple):
    """A dot algorithm by its parts (jax.lax.DotAlgorithm)."""
    lhs_precision_type: object
    rhs_precision_type: object
    accumulation_type: object
    lhs_component_count: int = 1
    rhs_component_count: int = 1
    num_primitive_operations: int = 1
    allow_imprecise_accumulation: bool = False


class DotAlgorithmPreset(enum.Enum):
    """The known dot algorithms by name, LHS_RHS_ACCUMULATION (jax.lax.DotAlgorithmPreset); _X3,
    _X6 and _X9 emulate the wider type with that many products."""
    DEFAULT = enum.auto()
    ANY_F8_ANY_F8_F32 = enum.auto()
    ANY_F8_ANY_F8_F32_FAST_ACCUM = enum.auto()
    ANY_F8_ANY_F8_ANY = enum.auto()
    ANY_F8_ANY_F8_ANY_FAST_ACCUM = enum.auto()
    F16_F16_F16 = enum.auto()
    F16_F16_F32 = enum.auto()
    BF16_BF16_BF16 = enum.auto()
    BF16_BF16_F32 = enum.auto()
    BF16_BF16_F32_X3 = enum.auto()
    BF16_BF16_F32_X6 = enum.auto()
    BF16_BF16_F32_X9 = enum.auto()
    TF32_TF32_F32 = enum.auto()
    TF32_TF32_F32_X3 = enum.auto()
    F32_F32_F32 = enum.auto()
    F64_F64_F64 = enum.auto()

    def __repr__(self):
        return f"{type(self).__name__}.{self.name}"

    def __str__(self):
        return self.name

    @property
    def supported_lhs_types(self):
        """The operand types the preset computes in (others are converted to the first); None
        where any goes."""
        name = self.name
        if name == "DEFAULT" or name.startswith("ANY_F8"):
            return None
        if name.startswith("F16_"):
            return (np.dtype(np.float16),)
        if name in ("BF16_BF16_BF16", "BF16_BF16_F32"):
            return (np.dtype(dtypes.bfloat16), np.dtype(np.float32))
        if name == "F64_F64_F64":
            return (np.dtype(np.float64),)
        return (np.dtype(np.float32),)

    @property
    def supported_rhs_types(self):
        return self.supported_lhs_types

    @property
    def accumulation_type(self):
        name = self.name
        if name in ("DEFAULT", "ANY_F8_ANY_F8_ANY", "ANY_F8_ANY_F8_ANY_FAST_ACCUM"):
            return None
        return np.dtype({"F16_F16_F16": np.float16, "BF16_BF16_BF16": dtypes.bfloat16,
                         "F64_F64_F64": np.float64}.get(name, np.float32))


# The presets XLA:CPU runs (the others it would silently ignore)
CPU_PRESETS = frozenset({
    DotAlgorithmPreset.DEFAULT, DotAlgorithmPreset.F16_F16_F16, DotAlgorithmPreset.F32_F32_F32,
    DotAlgorithmPreset.F64_F64_F64, DotAlgorithmPreset.BF16_BF16_F32,
    DotAlgorithmPreset.BF16_BF16_F32_X3, DotAlgorithmPreset.BF16_BF16_F32_X6})

# A preset's parts: (lhs and rhs type, accumulation type, products)
_PARTS = {"F16_F16_F16": ("f16", "f16", 1), "F16_F16_F32": ("f16", "f32", 1),
          "BF16_BF16_BF16": ("bf16", "bf16", 1), "BF16_BF16_F32": ("bf16", "f32", 1),
          "BF16_BF16_F32_X3": ("bf16", "f32", 3), "BF16_BF16_F32_X6": ("bf16", "f32", 6),
          "BF16_BF16_F32_X9": ("bf16", "f32", 9), "TF32_TF32_F32": ("tf32", "f32", 1),
          "TF32_TF32_F32_X3": ("tf32", "f32", 3), "F32_F32_F32": ("f32", "f32", 1),
          "F64_F64_F64": ("f64", "f64", 1)}


def is_algorithm(precision) -> bool:
    return isinstance(precision, (DotAlgorithm, DotAlgorithmPreset))


def preset_named(name):
    """The preset of this name, or None."""
    return DotAlgorithmPreset.__members__.get(name) if isinstance(name, str) else None


def check_runs_on_cpu(algorithm):
    if algorithm not in CPU_PRESETS:
        supported = ", ".join(sorted(p.name for p in CPU_PRESETS))
        raise ValueError(f"The precision '{algorithm}' is not supported by dot_general on CPU; "
                         f"the CPU runs the DotAlgorithmPresets {supported}")


def compute_types(algorithm, lhs_dtype, rhs_dtype, out_dtype):
    """(lhs, rhs, accumulation) dtypes the product computes in: the operands are converted to
    the first type the algorithm takes unless theirs is one of them."""
    if isinstance(algorithm, DotAlgorithm):
        return tuple(np.dtype(t) for t in (algorithm.lhs_precision_type,
                                           algorithm.rhs_precision_type,
                                           algorithm.accumulation_type))
    allowed = algorithm.supported_lhs_types

    def pick(dtype):
        return dtype if allowed is None or np.dtype(dtype) in allowed else allowed[0]
    accumulation = algorithm.accumulation_type
    return pick(lhs_dtype), pick(rhs_dtype), out_dtype if accumulation is None else accumulation


def algorithm_attr(algorithm) -> str:
    """The `algorithm = #stablehlo.dot_algorithm<...>` attribute text; "" for DEFAULT."""
    if algorithm is DotAlgorithmPreset.DEFAULT:
        return ""
    if isinstance(algorithm, DotAlgorithm):
        lhs, rhs, acc = (element_type(np.dtype(t)) for t in algorithm[:3])
        counts = algorithm[3:6]
        imprecise = algorithm.allow_imprecise_accumulation
    else:
        operand, acc, products = _PARTS[algorithm.name]
        lhs = rhs = operand
        counts, imprecise = (1, 1, products), False
    return (f"algorithm = #stablehlo.dot_algorithm<lhs_precision_type = {lhs}, "
            f"rhs_precision_type = {rhs}, accumulation_type = {acc}, lhs_component_count = "
            f"{counts[0]}, rhs_component_count = {counts[1]}, num_primitive_operations = "
            f"{counts[2]}, allow_imprecise_accumulation = {str(bool(imprecise)).lower()}>")
