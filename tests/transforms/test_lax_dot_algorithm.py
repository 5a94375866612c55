"""dot_general's `precision=` with JAX's dot algorithms: the presets XLA:CPU runs compute in
their types (operands rounded to them, checked against NumPy on the rounded operands), by
object, by name and as the default_matmul_precision, under grad and vmap; the others, and
DotAlgorithm objects, are refused as JAX refuses them on CPU."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_mapped

P = lax.DotAlgorithmPreset
rng = np.random.default_rng(0)
A = rng.standard_normal((4, 8)).astype(np.float32)
B = rng.standard_normal((8, 3)).astype(np.float32)


def rounded_product(a, b, dtype):
    """The product of operands rounded to `dtype`, exact in float64."""
    return a.astype(dtype).astype(np.float64) @ b.astype(dtype).astype(np.float64)


@pytest.mark.parametrize("preset, operands, computes_in", [
    (P.DEFAULT, np.float32, np.float32), (P.F32_F32_F32, np.float32, np.float32),
    (P.F32_F32_F32, np.float16, np.float32), (P.BF16_BF16_F32, np.float16, dtypes.bfloat16),
    (P.BF16_BF16_F32, np.float32, np.float32), (P.BF16_BF16_F32_X3, np.float32, np.float32),
    (P.BF16_BF16_F32_X6, np.float32, np.float32), (P.F16_F16_F16, np.float32, np.float16),
    (P.F64_F64_F64, np.float32, np.float32)])
def test_cpu_presets_compute_in_their_types(preset, operands, computes_in):
    a, b = A.astype(operands), B.astype(operands)
    for precision in (preset, preset.name):
        out = lax.dot(a, b, precision=precision)
        assert out.dtype == operands
        assert_close(out, rounded_product(A, B, computes_in).astype(operands),
                     rtol=2e-2 if computes_in == np.float16 else None)
    wide = lax.dot(a, b, precision=preset, preferred_element_type=np.float32)
    assert wide.dtype == np.float32


def test_bf16_preset_rounds_float16_operands_to_bfloat16():
    a, b = A.astype(np.float16), B.astype(np.float16)
    out = np.asarray(lax.dot(a, b, precision=P.BF16_BF16_F32, preferred_element_type=np.float32))
    np.testing.assert_allclose(out, rounded_product(a, b, dtypes.bfloat16), rtol=1e-5, atol=1e-5)
    assert np.abs(out - rounded_product(a, b, np.float32)).max() > 1e-3  # not float16's product


def test_presets_under_grad_vmap_and_the_default_precision():
    f = lambda a, b: lax.dot(a, b, precision=P.F32_F32_F32).sum()  # noqa: E731
    ga, gb = spmd.grad(f, argnums=(0, 1))(A, B)
    assert_close(ga, np.broadcast_to(B.sum(1), A.shape))
    assert_close(gb, np.broadcast_to(A.sum(0)[:, None], B.shape))
    batched = lambda a: lax.dot(a, B, precision="BF16_BF16_F32_X3")  # noqa: E731
    check_mapped(spmd.vmap(batched), batched, (np.stack([A, -A]),))
    with spmd.default_matmul_precision("F16_F16_F16"):
        assert_close(lax.dot(A, B), rounded_product(A, B, np.float16).astype(np.float32),
                     rtol=2e-2)


@pytest.mark.parametrize("precision", [P.TF32_TF32_F32, "BF16_BF16_F32_X9", P.F16_F16_F32,
                                       P.ANY_F8_ANY_F8_F32,
                                       lax.DotAlgorithm(np.float32, np.float32, np.float32)])
def test_algorithms_cpu_does_not_run_are_refused(precision):
    with pytest.raises(ValueError, match=r"is not supported by dot_general on CPU; the CPU runs "
                                         r"the DotAlgorithmPresets BF16_BF16_F32"):
        lax.dot(A, B, precision=precision)


def test_preset_properties_follow_jax():
    assert P.BF16_BF16_F32.supported_lhs_types == (np.dtype(dtypes.bfloat16),
                                                   np.dtype(np.float32))
    assert P.F16_F16_F16.accumulation_type == np.float16 and P.DEFAULT.accumulation_type is None
    assert repr(P.F32_F32_F32) == "DotAlgorithmPreset.F32_F32_F32" and str(P.DEFAULT) == "DEFAULT"
