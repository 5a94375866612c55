"""The jax.numpy names of issue 13's part 3 that the function table (numpy_more_cases.py) does
not cover: windows, polynomials, dtype questions, NumPy's re-exports, and every misuse's
error."""
import io

import ml_dtypes
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_match_numpy(name):
    for m in (0, 1, 6):
        np.testing.assert_allclose(np.asarray(getattr(jnp, name)(m)), getattr(np, name)(m),
                                   atol=1e-6)
    assert getattr(jnp, name)(3).dtype == np.float32


def test_kaiser_matches_numpy_and_follows_x64(x64):
    np.testing.assert_allclose(np.asarray(jnp.kaiser(7, 4.0)), np.kaiser(7, 4.0), rtol=1e-12)
    assert jnp.kaiser(7, 4.0).dtype == np.float64


def test_polynomials_match_numpy():
    p, q = np.array([3.0, -1, 2, 0.5]), np.array([2.0, 4])
    x = np.array([[0.5, 2], [1, -1.5]])
    for ours, theirs in [(jnp.polyval(p, x), np.polyval(p, x)),
                         (jnp.polyadd(p, q), np.polyadd(p, q)),
                         (jnp.polysub(q, p), np.polysub(q, p)),
                         (jnp.polymul(p, q), np.polymul(p, q)),
                         (jnp.polyder(p, 2), np.polyder(p, 2)),
                         (jnp.polyint(p, 2, k=[1, 2]), np.polyint(p, 2, k=[1, 2])),
                         (jnp.poly(np.array([1.0, -2, 3])), np.poly([1.0, -2, 3])),
                         (jnp.vander(np.array([1, 2, 3]), 4, increasing=True),
                          np.vander([1, 2, 3], 4, True))]:
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-6)
    for u, v in [(p, q), (q, p)]:
        for ours, theirs in zip(jnp.polydiv(u, v), np.polydiv(u, v)):
            np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-6, atol=1e-6)
    assert jnp.polyval(np.array([1, 2]), 3).dtype == np.int32  # integers stay integers
    grad = spmd.grad(lambda x: jnp.polyval(np.array([1.0, -2, 3]), x))(2.0)
    assert float(grad) == 2 * 2.0 - 2  # d/dx (x^2 - 2x + 3)


@pytest.mark.parametrize("a, b", [(np.int8, np.uint8), (ml_dtypes.bfloat16, np.float16),
                                  (np.int64, np.float32), (np.bool_, np.int16),
                                  (np.uint32, np.int32), (np.float16, np.complex64)])
def test_promote_types_follows_jaxs_lattice(a, b):
    expected = {(np.int8, np.uint8): np.int16, (ml_dtypes.bfloat16, np.float16): np.float32,
                (np.int64, np.float32): np.float32, (np.bool_, np.int16): np.int16,
                (np.uint32, np.int32): np.int64, (np.float16, np.complex64): np.complex64}
    assert jnp.promote_types(a, b) == jnp.promote_types(b, a) == np.dtype(expected[(a, b)])


def test_dtype_questions():
    assert jnp.can_cast(np.int8, np.int32) and not jnp.can_cast(jnp.float32, jnp.int32)
    assert jnp.can_cast(jnp.ones(2, np.int16), np.float32)
    assert jnp.can_cast(np.float64, np.float32, casting="same_kind")
    assert jnp.isdtype(jnp.float32, "real floating") and jnp.isdtype(jnp.bfloat16, "numeric")
    assert jnp.isdtype(np.uint8, ("bool", "unsigned integer")) and jnp.isdtype(np.int8, np.int8)
    assert not jnp.isdtype(np.uint8, "signed integer") and jnp.isdtype(np.int8, "integral")
    assert jnp.isdtype(np.complex64, "complex floating") and not jnp.isdtype(np.bool_, "numeric")
    with pytest.raises(ValueError, match="isdtype: unrecognized kind 'floats'"):
        jnp.isdtype(np.float32, "floats")


def test_numpys_own_names_and_save_load_round_trip():
    assert jnp.euler_gamma == np.euler_gamma and jnp.generic is np.generic
    assert issubclass(jnp.ComplexWarning, Warning)
    with jnp.printoptions(precision=2):
        assert jnp.get_printoptions()["precision"] == 2
    buffer = io.BytesIO()
    jnp.save(buffer, jnp.arange(3.0))
    buffer.seek(0)
    loaded = jnp.load(buffer)
    assert isinstance(loaded, spmd.Array)
    np.testing.assert_array_equal(np.asarray(loaded), np.arange(3.0))


ERRORS = [
    (lambda: jnp.unstack(np.float32(1)), ValueError, "unstack requires an array of at least one"),
    (lambda: jnp.block([[np.ones(2)], np.ones(2)]), ValueError, "list depths are mismatched"),
    (lambda: jnp.block((np.ones(2),)), TypeError, "arrays must be nested lists, not tuples"),
    (lambda: jnp.dsplit(np.ones((2, 2)), 2), ValueError, "dsplit only works on arrays of 3"),
    (lambda: jnp.delete(np.ones(3), [5]), IndexError, "delete: index out of bounds"),
    (lambda: jnp.delete(np.ones(3), np.array([True, False])), ValueError,
     r"boolean mask of shape \(2,\) does not match axis 0 of length 3"),
    (lambda: jnp.insert(np.ones(3), 5, 1.0), IndexError, "insert: index out of bounds"),
    (lambda: jnp.resize(np.ones(3), (-1, 2)), ValueError, "must be non-negative"),
    (lambda: jnp.rollaxis(np.ones((2, 3)), 0, 5), ValueError, "start 5 is out of bounds"),
    (lambda: jnp.trim_zeros(np.ones((2, 2))), ValueError, "trim_zeros needs a 1-D array"),
    (lambda: jnp.choose(np.array([2]), [np.ones(1), np.ones(1)]), ValueError,
     r"invalid entry in choice array \(indices must be in \[0, 2\)\)"),
    (lambda: jnp.choose(np.array([0]), [np.ones(1)], mode="bad"), ValueError, "mode must be"),
    (lambda: jnp.compress([True] * 4, np.ones(3)), ValueError, "condition of length 4 is longer"),
    (lambda: jnp.put(np.ones(3), [0], [1]), ValueError, "pass inplace=False"),
    (lambda: jnp.place(np.ones(3), np.ones(3, bool), [1]), ValueError, "cannot modify an array "
     "in place"),
    (lambda: jnp.fill_diagonal(np.ones(3), 1, inplace=False), ValueError, "at least 2-d"),
    (lambda: jnp.fill_diagonal(np.ones((2, 3, 3)), 1, inplace=False), ValueError,
     "all dimensions of input must be of equal length"),
    (lambda: jnp.put_along_axis(np.ones((2, 2)), np.zeros(2, int), 1, 0, inplace=False),
     ValueError, "indices must have the same number of dimensions as arr"),
    (lambda: jnp.bitwise_count(np.ones(2)), TypeError, "bitwise_count requires integer"),
    (lambda: jnp.fabs(np.ones(2, np.complex64)), TypeError, "fabs does not support complex"),
    (lambda: jnp.ldexp(np.ones(2), np.ones(2)), TypeError, "second argument must be an integer"),
    (lambda: jnp.frexp(np.ones(2, np.complex64)), TypeError, "frexp does not support complex"),
    (lambda: jnp.gcd(np.ones(2), np.ones(2)), TypeError, "gcd and lcm require integer"),
    (lambda: jnp.isposinf(np.ones(2, np.complex64)), TypeError, "not defined for complex"),
    (lambda: jnp.diag_indices(-1), ValueError, "must be non-negative"),
    (lambda: jnp.diag_indices_from(np.ones((2, 3))), ValueError, "all dimensions equal"),
    (lambda: jnp.tril_indices_from(np.ones(3)), ValueError, "requires a 2-d array"),
    (lambda: jnp.ix_(np.ones((2, 2))), ValueError, "ix_: arguments must be 1-d"),
    (lambda: jnp.ix_(np.array([True, False])), TypeError, "does not accept boolean arrays"),
    (lambda: jnp.ravel_multi_index((np.array([3]),), (3,)), ValueError, "invalid entry"),
    (lambda: jnp.ravel_multi_index((np.array([1]),), (3, 4)), ValueError, "1 index arrays for 2"),
    (lambda: jnp.unravel_index(np.ones(2), (3,)), TypeError, "only int indices permitted"),
    (lambda: jnp.mgrid[1], TypeError, "mgrid/ogrid take slices"),
    (lambda: jnp.r_["0,2", np.ones(2)], NotImplementedError, "directive strings"),
    (lambda: jnp.quantile(np.ones(3), 1.5), ValueError, r"quantiles must be in the range \[0, 1\]"),
    (lambda: jnp.percentile(np.ones(3), 101), ValueError, r"percentiles must be in the range"),
    (lambda: jnp.quantile(np.ones(3), 0.5, method="cubic"), ValueError, "method must be one of"),
    (lambda: jnp.quantile(np.ones(3, np.complex64), 0.5), TypeError, "does not support complex"),
    (lambda: jnp.cov(np.ones((2, 2, 2))), ValueError, "more than 2 dimensions"),
    (lambda: jnp.cov(np.ones((2, 3)), fweights=np.ones(3)), NotImplementedError, "fweights"),
    (lambda: jnp.searchsorted(np.ones((2, 2)), 1.0), ValueError, "a must be 1-d"),
    (lambda: jnp.searchsorted(np.ones(2), 1.0, side="middle"), ValueError, "side must be"),
    (lambda: jnp.digitize(np.ones(2), np.ones((2, 2))), ValueError, "bins must be 1-d"),
    (lambda: jnp.bincount(np.ones(2)), TypeError, "x must have an integer dtype"),
    (lambda: jnp.bincount(np.array([-1, 2])), ValueError, "x must be non-negative"),
    (lambda: spmd.jit(jnp.bincount)(np.array([1, 2])), spmd.transforms.core.ConcretizationError,
     r"pass length= under jit"),
    (lambda: jnp.histogram_bin_edges(np.ones(3), 0), ValueError, "bins must be positive"),
    (lambda: jnp.polyder(np.ones(3), -1), ValueError, "must be non-negative"),
    (lambda: jnp.polyval(np.ones((2, 2)), 1.0), ValueError, "coefficients must be 1-d"),
    (lambda: jnp.vander(np.ones((2, 2))), ValueError, "x must be 1-d"),
    (lambda: jnp.poly(np.ones((2, 2))), NotImplementedError, "needs eigenvalues"),
]


@pytest.mark.parametrize("call, error, message", ERRORS,
                         ids=[str(i) for i in range(len(ERRORS))])
def test_misuses_raise_errors_that_say_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()
