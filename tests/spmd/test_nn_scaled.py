"""jax.nn.scaled_matmul, scaled_dot_general and get_scaled_dot_general_config against NumPy,
with ml_dtypes' own float8/float4 conversions as the quantization oracle."""
import ml_dtypes
import numpy as np
import pytest

import spmd
import spmd.nn as nn
from spmd.nn._scaled import _round_to_format

RNG = np.random.default_rng(0)


def _np_scaled_matmul(a, b, a_s, b_s):
    a = a.astype(np.float64) * np.repeat(a_s.astype(np.float64), a.shape[-1] // a_s.shape[-1], -1)
    b = b.astype(np.float64) * np.repeat(b_s.astype(np.float64), b.shape[-1] // b_s.shape[-1], -1)
    return np.einsum("bmk,bnk->bmn", a, b)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16, np.float16])
def test_scaled_matmul_matches_numpy(dtype):
    a, b = (RNG.standard_normal(shape).astype(dtype) for shape in ((2, 3, 8), (2, 4, 8)))
    a_s, b_s = (RNG.uniform(0.5, 2, shape).astype(dtype) for shape in ((2, 3, 2), (2, 4, 2)))
    out = nn.scaled_matmul(a, b, a_s, b_s)
    assert out.dtype == np.float32 and out.shape == (2, 3, 4)
    np.testing.assert_allclose(out, _np_scaled_matmul(a, b, a_s, b_s), rtol=1e-5, atol=1e-5)
    assert nn.scaled_matmul(a, b, a_s, b_s, preferred_element_type=np.float16).dtype == np.float16


def test_scaled_matmul_jax_docstring_example():
    a, b = np.array([1.0, 2, 3]).reshape(1, 1, 3), np.array([4.0, 5, 6]).reshape(1, 1, 3)
    half = np.full((1, 1, 1), 0.5)
    np.testing.assert_allclose(nn.scaled_matmul(a, b, half, half), [[[8.0]]])


def test_scaled_matmul_errors():
    a, s = np.ones((1, 2, 4), np.float32), np.ones((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="3-dimensional"):
        nn.scaled_matmul(a[0], a, s, s)
    with pytest.raises(ValueError, match="matching batch .* and contract"):
        nn.scaled_matmul(a, np.ones((1, 2, 6), np.float32), s, s)
    with pytest.raises(ValueError, match="scales to have matching"):
        nn.scaled_matmul(a, a, s, np.ones((1, 2, 1), np.float32))
    with pytest.raises(ValueError, match="non-contract dimensions"):
        nn.scaled_matmul(a, a, np.ones((1, 3, 2), np.float32), s)
    with pytest.raises(ValueError, match="divide the contract dimension"):
        nn.scaled_matmul(a, a, np.ones((1, 2, 3), np.float32), np.ones((1, 2, 3), np.float32))


@pytest.mark.parametrize("fmt", [ml_dtypes.float8_e4m3fn, ml_dtypes.float4_e2m1fn])
def test_rounding_matches_ml_dtypes(fmt):
    top = float(ml_dtypes.finfo(fmt).max)
    x = np.concatenate([RNG.uniform(-top, top, 200), RNG.uniform(-1, 1, 100) * 2.0 ** -6,
                        [0.0, top, -top]]).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(_round_to_format(spmd.numpy.asarray(x), fmt)),
                                  x.astype(fmt).astype(np.float32))


def _np_quantize(x, config):
    blocks = x.reshape(x.shape[:-1] + (-1, config.block_size)).astype(np.float32)
    top = float(ml_dtypes.finfo(config.data_type).max)
    if config.mode == "mxfp8":
        s = np.abs(blocks).max(-1, keepdims=True) / np.float32(top)
        scales = (2.0 ** np.ceil(np.log2(s.astype(np.float64)))).astype(np.float32)
    else:
        blocks = blocks / np.asarray(config.global_scale, np.float32)
        s = np.abs(blocks).max(-1, keepdims=True) / np.float32(top)
        scales = s.astype(config.scale_type).astype(np.float32)
    q = np.clip(blocks / scales, -top, top).astype(config.data_type).astype(np.float32)
    return q.reshape(x.shape), scales[..., 0]


@pytest.mark.parametrize("mode", ["mxfp8", "nvfp4"])
def test_scaled_dot_general_matches_numpy_quantization(mode):
    config = nn.get_scaled_dot_general_config(mode, None if mode == "mxfp8" else
                                              np.array([0.5], np.float32))
    lhs = RNG.standard_normal((2, 3, 64)).astype(np.float32)  # batch, free, contracting
    rhs = RNG.standard_normal((64, 2, 5)).astype(np.float32)  # contracting, batch, free
    dn = (((2,), (0,)), ((0,), (1,)))
    out = spmd.jit(lambda x, y: nn.scaled_dot_general(x, y, dn, configs=[config, config]))(
        lhs, rhs)
    a, a_s = _np_quantize(lhs, config)
    b, b_s = _np_quantize(np.transpose(rhs, (1, 2, 0)), config)
    want = _np_scaled_matmul(a, b, a_s, b_s)
    if mode == "nvfp4":
        want = want * 0.25
    assert out.shape == (2, 3, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    # quantization error stays small relative to the exact product
    exact = np.einsum("bmk,kbn->bmn", lhs, rhs)
    error = np.abs(np.asarray(out) - exact).max() / np.abs(exact).max()
    assert error < (0.05 if mode == "mxfp8" else 0.3)


def test_scaled_dot_general_without_configs_is_dot_general():
    lhs, rhs = RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal((4, 2))
    out = nn.scaled_dot_general(lhs, rhs.astype(np.float32), (((1,), (0,)), ((), ())))
    np.testing.assert_allclose(out, lhs @ rhs, rtol=1e-5)


def test_scaled_dot_general_config_and_errors():
    c = nn.get_scaled_dot_general_config("mxfp8")
    assert (c.block_size, c.data_type, c.scale_type, c.global_scale) == (
        32, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e8m0fnu, None)
    c = nn.get_scaled_dot_general_config("nvfp4")
    assert (c.block_size, c.data_type, c.scale_type) == (
        16, ml_dtypes.float4_e2m1fn, ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(c.global_scale, [1.0])
    with pytest.raises(ValueError, match="Unsupported mode"):
        nn.get_scaled_dot_general_config("fp16")
    with pytest.raises(ValueError, match="multiple of the mxfp8 block size"):
        nn.scaled_dot_general(np.ones((2, 40), np.float32), np.ones((40, 3), np.float32),
                              (((1,), (0,)), ((), ())),
                              configs=[nn.get_scaled_dot_general_config("mxfp8")] * 2)
