"""spmd.nn.initializers: each one is JAX's formula over spmd.random's streams (checked as exact
identities, so the same key gives JAX's numbers), its fans and variances against the closed
form, orthogonality, dtypes, and the errors."""
import math

import numpy as np
import pytest

import spmd
import spmd.nn.initializers as init
from spmd import random
from spmd.transforms import dtypes

KEY = random.key(7)
CONV = (3, 3, 4, 8)  # HWIO: fan_in = 3*3*4 = 36, fan_out = 3*3*8 = 72


def exact(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, dtypes.bfloat16])
def test_normal_uniform_truncated_normal_are_the_samplers_times_the_scale(dtype):
    s = np.asarray(0.3, dtype)
    exact(init.normal(0.3)(KEY, (4, 5), dtype), random.normal(KEY, (4, 5), dtype) * s)
    exact(init.uniform(0.3)(KEY, (4, 5), dtype), random.uniform(KEY, (4, 5), dtype) * s)
    exact(init.truncated_normal(0.3, lower=-1.0, upper=3.0)(KEY, (4, 5), dtype),
          random.truncated_normal(KEY, -1.0, 3.0, (4, 5), dtype) * s)


def test_builder_dtype_is_the_default_and_float32_without_one():
    assert init.normal()(KEY, (2,)).dtype == np.float32
    assert init.normal(dtype=np.float16)(KEY, (2,)).dtype == np.float16
    assert init.glorot_uniform(dtype=dtypes.bfloat16)(KEY, (2, 2)).dtype == dtypes.bfloat16
    assert init.glorot_uniform(dtype=np.float16)(KEY, (2, 2), np.float32).dtype == np.float32


def test_float64_under_x64(x64):
    out = init.he_normal()(KEY, (3, 4), np.float64)
    assert out.dtype == np.float64
    var = 2.0 / 3
    exact(out, random.truncated_normal(KEY, -2, 2, (3, 4), np.float64)
          * (np.sqrt(var) / 0.87962566103423978))


@pytest.mark.parametrize("shape, axes, fans", [
    ((5, 7), {}, (5, 7)),
    (CONV, {}, (36, 72)),
    ((2, 6, 3, 5), {"in_axis": 1, "out_axis": (0, 3), "batch_axis": 2}, (6, 10)),
    ((4,), {"in_axis": 0, "out_axis": 0}, (1, 1)),  # receptive field 4 / 4 / 4
])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_variance_scaling_normal_is_the_normal_sample_times_sqrt_of_scale_over_fan(
        shape, axes, fans, mode):
    fan_in, fan_out = fans
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    out = init.variance_scaling(1.5, mode, "normal", **axes)(KEY, shape)
    exact(out, random.normal(KEY, shape) * np.sqrt(np.float32(1.5 / n)))


def test_variance_scaling_uniform_and_truncated_normal_follow_jax_formulas():
    var = np.float32(0.5 / 36)  # fan_in of CONV
    exact(init.variance_scaling(0.5, "fan_in", "uniform")(KEY, CONV),
          random.uniform(KEY, CONV, np.float32, -1) * np.sqrt(3 * var))
    exact(init.variance_scaling(0.5, "fan_in", "truncated_normal")(KEY, CONV),
          random.truncated_normal(KEY, -2, 2, CONV) * (np.sqrt(var)
                                                        / np.float32(.87962566103423978)))


@pytest.mark.parametrize("name, scale, mode, dist", [
    ("glorot_uniform", 1.0, "fan_avg", "uniform"), ("glorot_normal", 1.0, "fan_avg",
                                                     "truncated_normal"),
    ("xavier_uniform", 1.0, "fan_avg", "uniform"), ("xavier_normal", 1.0, "fan_avg",
                                                     "truncated_normal"),
    ("lecun_uniform", 1.0, "fan_in", "uniform"), ("lecun_normal", 1.0, "fan_in",
                                                   "truncated_normal"),
    ("he_uniform", 2.0, "fan_in", "uniform"), ("he_normal", 2.0, "fan_in", "truncated_normal"),
    ("kaiming_uniform", 2.0, "fan_in", "uniform"), ("kaiming_normal", 2.0, "fan_in",
                                                     "truncated_normal"),
])
def test_named_initializers_are_variance_scaling(name, scale, mode, dist):
    builder = getattr(init, name)
    exact(builder(in_axis=0, out_axis=3)(KEY, CONV),
          init.variance_scaling(scale, mode, dist, in_axis=0, out_axis=3)(KEY, CONV))
    assert isinstance(builder(), init.Initializer)


@pytest.mark.parametrize("dist", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_sample_variance_and_range_match_the_closed_form(dist, dtype):
    shape = (2, 128, 64)  # fan_in 2*128, fan_out 2*64: fan_avg 192
    w = np.asarray(init.variance_scaling(3.0, "fan_avg", dist)(KEY, shape, dtype))
    var = 3.0 / 192
    assert w.dtype == dtype and w.shape == shape
    assert abs(w.mean()) < 4 * np.sqrt(var / w.size)
    want = var
    if dtype == np.complex64 and dist == "truncated_normal":
        # JAX's complex correction is not the exact one (see the test below): |z|^2 is Exp(1)
        # cut at 4, whose mean is 1 - 4 e^-4 / (1 - e^-4), divided by JAX's constant squared
        e4 = math.exp(-4)
        want = var * (1 - 4 * e4 / (1 - e4)) / init._COMPLEX_TRUNCATED_STD ** 2
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), want, rtol=0.03)
    bound = {"normal": np.inf, "uniform": np.sqrt(3 * var),
             "truncated_normal": 2 * np.sqrt(var) / 0.87962566103423978}[dist]
    if dtype == np.complex64:
        bound = {"normal": np.inf, "uniform": np.sqrt(2 * var),
                 "truncated_normal": 2 * np.sqrt(var) / 0.95311164380491208}[dist]
    assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_truncation_constant_is_the_std_of_the_truncated_normal():
    # Var of N(0,1) cut to (-2, 2): 1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1)
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.isclose(math.sqrt(1 - 4 * phi2 / mass), init._TRUNCATED_STD, rel_tol=1e-15)
    # JAX's complex constant is kept as JAX has it (same numbers as JAX), though the exact
    # standard deviation of its sampler would be sqrt(1 - 4 e^-4 / (1 - e^-4)) = 0.96196
    assert init._COMPLEX_TRUNCATED_STD == .95311164380491208


def test_zeros_ones_constant():
    exact(init.zeros(KEY, (2, 3)), np.zeros((2, 3), np.float32))
    exact(init.ones(KEY, (2, 3), np.int32), np.ones((2, 3), np.int32))
    exact(init.constant(-7)(KEY, [2, 3]), np.full((2, 3), -7, np.float32))
    exact(init.constant(2.5, dtype=np.float16)(KEY, (1,)), np.full((1,), 2.5, np.float16))


def test_initializers_run_under_jit():
    out = spmd.jit(lambda k: init.glorot_normal()(k, (4, 6)))(KEY)
    exact(out, init.glorot_normal()(KEY, (4, 6)))


def test_errors():
    with pytest.raises(ValueError, match="1-dimensional weights tensor with default in_axis"):
        init.glorot_uniform()(KEY, (5,))
    with pytest.raises(ValueError, match="invalid mode .*'fan_mean'.*fan_geo_avg"):
        init.variance_scaling(1.0, "fan_mean", "normal")
    with pytest.raises(ValueError, match="invalid distribution .*'cauchy'.*truncated_normal"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="in_axis=5, .* out of range for a weight of shape"):
        init.lecun_normal(in_axis=5)(KEY, (2, 3))
    with pytest.raises(TypeError, match="shape must be a sequence of integers, got 3"):
        init.he_normal()(KEY, 3)
    with pytest.raises(NotImplementedError, match="out_sharding is not supported"):
        init.zeros(KEY, (2,), out_sharding="x")
    with pytest.raises(ValueError, match="orthogonal initializer requires at least a 2D shape"):
        init.orthogonal()(KEY, (3,))
    with pytest.raises(ValueError, match="requires a 3D, 4D or 5D shape, got \\(3, 3\\)"):
        init.delta_orthogonal()(KEY, (3, 3))
    with pytest.raises(ValueError, match="`fan_in` must be less or equal than `fan_out`"):
        init.delta_orthogonal()(KEY, (3, 3, 5, 4))


def _needs_qr():
    if not hasattr(spmd.numpy, "linalg"):
        pytest.skip("spmd.numpy.linalg.qr is not in this tree")


@pytest.mark.parametrize("shape, column_axis", [((6, 4), -1), ((3, 5), -1), ((4, 6), 0),
                                                (CONV, -1), ((3, 2, 5), 1)])
def test_orthogonal_has_orthonormal_columns_or_rows(shape, column_axis):
    _needs_qr()
    w = np.asarray(init.orthogonal(scale=2.0, column_axis=column_axis)(KEY, shape))
    assert w.shape == shape and w.dtype == np.float32
    m = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis]) / 2.0
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=2e-6)


def test_orthogonal_is_the_sign_fixed_q_of_the_normal_sample(x64):
    _needs_qr()
    w = np.asarray(init.orthogonal()(KEY, (5, 3), np.float64))
    z = np.asarray(random.normal(KEY, (5, 3), np.float64))
    q, r = np.linalg.qr(z)
    np.testing.assert_allclose(w, q * np.sign(np.diag(r)), atol=1e-12)
    assert not init.orthogonal()(KEY, (0, 3)).size


def test_delta_orthogonal_is_zero_but_an_orthogonal_centre():
    _needs_qr()
    w = np.array(init.delta_orthogonal(scale=3.0)(KEY, (3, 4, 2, 5)))  # a writable copy
    centre = w[1, 1]
    np.testing.assert_allclose(centre @ centre.T, 9 * np.eye(2), atol=1e-5)
    w[1, 1] = 0
    assert not w.any()
