"""jax.nn's block-scaled products: scaled_matmul (operands times per-block scales, then a batched
matmul), scaled_dot_general (quantize both operands to a narrow float format with one scale per
block of the contracting dimension, then scaled_matmul) and get_scaled_dot_general_config (the
mxfp8 and nvfp4 formats). spmd's XLA backend has no 8- or 4-bit float dtypes, so quantization
rounds to those formats' value grids inside float32, and the product is computed in float32,
the semantics JAX has off cuDNN."""
from __future__ import annotations

import dataclasses
from typing import Any

import ml_dtypes
import numpy as np

import spmd.numpy as jnp
from spmd import lax
from spmd.numpy._core import asarray_value, shape_of


@dataclasses.dataclass
class BlockScaleConfig:
    mode: str
    block_size: int
    data_type: Any
    scale_type: Any
    global_scale: Any
    infer_only: bool


def get_scaled_dot_general_config(mode, global_scale=None):
    """The quantization config of `mode`: "mxfp8" (float8_e4m3fn values, a power-of-two
    float8_e8m0fnu scale per 32 values) or "nvfp4" (float4_e2m1fn values, a float8_e4m3fn scale
    per 16 values, and a float32 global scale, default 1)."""
    if mode == "nvfp4":
        return BlockScaleConfig(
            mode="nvfp4", block_size=16, data_type=ml_dtypes.float4_e2m1fn,
            scale_type=ml_dtypes.float8_e4m3fn,
            global_scale=jnp.ones((1,), np.float32) if global_scale is None else global_scale,
            infer_only=False)
    if mode == "mxfp8":
        return BlockScaleConfig(mode="mxfp8", block_size=32, data_type=ml_dtypes.float8_e4m3fn,
                                scale_type=ml_dtypes.float8_e8m0fnu, global_scale=None,
                                infer_only=False)
    raise ValueError(f"Unsupported mode: {mode}; use 'mxfp8' or 'nvfp4'")


def scaled_matmul(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
    """(B, M, N) = einsum('BMK,BNK->BMN', lhs * scales repeated over each block of K, rhs * its
    scales), lhs (B, M, K), rhs (B, N, K), scales (B, M, K // block) and (B, N, K // block);
    computed in float32."""
    a, b, a_s, b_s = (asarray_value(v) for v in (lhs, rhs, lhs_scales, rhs_scales))
    if not all(len(shape_of(v)) == 3 for v in (a, b, a_s, b_s)):
        raise ValueError("scaled_matmul requires all inputs to be 3-dimensional arrays")
    (batch_a, m, k_a), (batch_b, n, k_b) = shape_of(a), shape_of(b)
    if k_a != k_b or batch_a != batch_b:
        raise ValueError("scaled_matmul requires inputs a and b to have matching batch (B) and "
                         f"contract (K) dimensions, but got shapes {shape_of(a)} and "
                         f"{shape_of(b)}")
    (batch_as, m_s, k_as), (batch_bs, n_s, k_bs) = shape_of(a_s), shape_of(b_s)
    if k_as != k_bs or batch_as != batch_bs:
        raise ValueError("scaled_matmul requires scales to have matching batch (B) and contract "
                         f"(K) dimensions, but got shapes {shape_of(a_s)} and {shape_of(b_s)}")
    if m_s != m or n_s != n:
        raise ValueError("scaled_matmul requires scales to match non-contract dimensions of "
                         f"inputs, but got shapes a: {shape_of(a)}, b: {shape_of(b)}, a_scales: "
                         f"{shape_of(a_s)}, b_scales: {shape_of(b_s)}")
    if k_as == 0 or k_a % k_as:
        raise ValueError(f"scaled_matmul requires the scales' last dimension ({k_as}) to divide "
                         f"the contract dimension ({k_a})")

    def dequantize(x, scales):
        block = k_a // k_as
        return jnp.multiply(x.astype(np.float32),
                            jnp.repeat(scales.astype(np.float32), block, axis=-1))

    out = jnp.einsum("bmk,bnk->bmn", dequantize(a, a_s), dequantize(b, b_s),
                     precision=lax.Precision.HIGHEST)
    return out.astype(preferred_element_type)


def scaled_dot_general(lhs, rhs, dimension_numbers, preferred_element_type=np.float32,
                       configs=None, implementation=None):
    """lax.dot_general's product with both operands quantized block-wise along their contracting
    dimensions as configs[0] and configs[1] say (configs=None: plain dot_general). The result
    has the batch dimensions, then lhs's and rhs's free dimensions."""
    if configs is None:
        return lax.dot_general(lhs, rhs, dimension_numbers,
                               preferred_element_type=preferred_element_type)
    lhs, rhs = asarray_value(lhs), asarray_value(rhs)
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    lhs_3d, lhs_free = _to_batch_rows_contract(lhs, lhs_contract, lhs_batch)
    rhs_3d, rhs_free = _to_batch_rows_contract(rhs, rhs_contract, rhs_batch)
    lhs_q, lhs_scales = _quantize(lhs_3d, configs[0])
    rhs_q, rhs_scales = _quantize(rhs_3d, configs[1])
    out = scaled_matmul(lhs_q, rhs_q, lhs_scales, rhs_scales, np.float32)
    if configs[0].mode == "nvfp4":
        out = out * (jnp.asarray(configs[0].global_scale, np.float32)
                     * jnp.asarray(configs[1].global_scale, np.float32))
    batch_shape = tuple(shape_of(lhs)[d] for d in sorted(lhs_batch))
    return out.reshape(batch_shape + lhs_free + rhs_free).astype(preferred_element_type)


def _to_batch_rows_contract(x, contract, batch):
    """x transposed and reshaped to (batch, free, contracting), and its free dimensions."""
    dims = range(len(shape_of(x)))
    batch_order = [d for d in dims if d in batch]
    free = [d for d in dims if d not in batch and d not in contract]
    contract_order = [d for d in dims if d in contract]
    sizes = [int(np.prod([shape_of(x)[d] for d in group], dtype=int))
             for group in (batch_order, free, contract_order)]
    t = jnp.transpose(x, batch_order + free + contract_order)
    return t.reshape(sizes), tuple(shape_of(x)[d] for d in free)


def _quantize(x, config):
    """(x rounded to config.data_type's grid after dividing by one scale per block of the last
    dimension, those scales), both float32."""
    k = shape_of(x)[-1]
    block = config.block_size
    if k < block or k % block:
        raise ValueError(f"scaled_dot_general: the contracting size ({k}) must be a multiple of "
                         f"the {config.mode} block size ({block})")
    x = x.astype(np.float32).reshape(shape_of(x)[:-1] + (k // block, block))
    data_max = float(ml_dtypes.finfo(config.data_type).max)
    if config.mode == "mxfp8":
        scales = _power_of_two_at_least(jnp.max(jnp.abs(x), axis=-1, keepdims=True) / data_max)
    elif config.mode == "nvfp4":
        x = x / jnp.asarray(config.global_scale, np.float32)
        scales = jnp.clip(jnp.max(jnp.abs(x), axis=-1, keepdims=True) / data_max, 0,
                          float(ml_dtypes.finfo(config.scale_type).max))
        scales = _round_to_format(scales, config.scale_type)
    else:
        raise ValueError(f"Unrecognized mode: {config.mode}; use 'mxfp8' or 'nvfp4'")
    # A zero scale (an all-zero block) divides to nan, as the format's own conversion does.
    values = _round_to_format(jnp.clip(x / scales, -data_max, data_max), config.data_type)
    return values.reshape(shape_of(values)[:-2] + (k,)), scales[..., 0]


def _power_of_two(exponent):
    """2.0**exponent in float32, exactly, for int32 exponents of normal numbers."""
    return lax.bitcast_convert_type(jnp.left_shift(exponent + 127, 23), np.float32)


def _power_of_two_at_least(s):
    """The smallest power of two >= s (float8_e8m0fnu's rounding up); 2**-127 for zero."""
    mantissa, exponent = jnp.frexp(s)  # s = mantissa * 2**exponent, mantissa in [0.5, 1)
    exponent = jnp.where(mantissa == 0.5, exponent - 1, exponent).astype(np.int32)
    return jnp.where(s == 0, np.float32(2.0 ** -127),
                     _power_of_two(jnp.clip(exponent, -126, 127)))


def _round_to_format(x, dtype):
    """float32 x rounded to the nearest value of the narrow float `dtype` (ties to even), for x
    within its range: steps of 2**(exponent - mantissa bits), subnormal below its smallest
    normal."""
    info = ml_dtypes.finfo(dtype)
    _, exponent = jnp.frexp(x)
    exponent = jnp.maximum(exponent.astype(np.int32) - 1, int(info.minexp))
    step = _power_of_two(exponent - int(info.nmant))
    return jnp.round(x / step) * step
