"""spmd.scipy.linalg against NumPy (SciPy is not a dependency): each factor-and-solve pair
solves the system numpy.linalg.solve solves, for real and complex, batched inputs and vector
right-hand sides; lu's factors reconstruct the matrix; gradients; misuse."""
import numpy as np
import pytest

import spmd
import spmd.scipy.linalg as sl
from tests.matrices import draw as _draw, mH as _mH
from tests.oracles import check_grads, tolerance






def _close(actual, expected, dtype):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=tolerance(dtype, 1000),
                               atol=tolerance(dtype, 1000))


DTYPES = [np.float32, np.complex128]
OPS = {0: lambda a: a, 1: lambda a: np.swapaxes(a, -1, -2), 2: _mH}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cho_factor_and_cho_solve(dtype, lower, x64):
    x = _draw((2, 3, 3), dtype)
    a = (x @ _mH(x) + 3 * np.eye(3)).astype(dtype)
    b = _draw((2, 3, 2), dtype, 1)
    assert sl.cho_factor(a, lower=lower)[1] is lower

    def solves(a, b):
        return (sl.cho_solve(sl.cho_factor(a, lower=lower), b),
                sl.cho_solve(sl.cho_factor(a[0], lower=lower), b[0, :, 0]),
                sl.solve(a, b, assume_a="pos"))
    matrix, vector, pos = spmd.jit(solves)(a, b)
    expected = np.linalg.solve(a, b)
    _close(matrix, expected, dtype)
    _close(vector, expected[0, :, 0], dtype)
    _close(pos, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans", [0, "T", 2])
def test_lu_factor_and_lu_solve(dtype, trans, x64):
    a, b = _draw((2, 3, 3), dtype), _draw((2, 3, 2), dtype, 1)
    op = OPS[{"T": 1}.get(trans, trans)]
    got = spmd.jit(lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=trans))(a, b)
    _close(got, np.linalg.solve(op(a), b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans, lower, unit_diagonal", [(0, True, False), (1, False, True),
                                                         ("C", True, False)])
def test_solve_triangular(dtype, trans, lower, unit_diagonal, x64):
    a = _draw((2, 3, 3), dtype) + 3 * np.eye(3)
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = t * (1 - np.eye(3)) + np.eye(3)
    b = _draw((2, 3, 2), dtype, 1)
    op = OPS[{"T": 1, "C": 2}.get(trans, trans)]
    got = spmd.jit(lambda a, b: sl.solve_triangular(a, b, trans=trans, lower=lower,
                                                    unit_diagonal=unit_diagonal))(a, b)
    _close(got, np.linalg.solve(op(t), b), dtype)


@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 3), (3, 5)])
def test_lu_factors_reconstruct_the_matrix(shape, x64):
    a = _draw(shape, np.complex128)
    (p, lower, upper), (pl, upper2) = spmd.jit(lambda a: (sl.lu(a), sl.lu(a, permute_l=True)))(a)
    p, lower, upper = (np.asarray(v) for v in (p, lower, upper))
    k = min(shape[-2:])
    assert lower.shape[-2:] == (shape[-2], k) and upper.shape[-2:] == (k, shape[-1])
    np.testing.assert_allclose(p @ lower @ upper, a, atol=1e-12)
    np.testing.assert_array_equal(lower, np.tril(lower))
    np.testing.assert_array_equal(upper, np.triu(upper))
    np.testing.assert_allclose(np.asarray(pl) @ np.asarray(upper2), a, atol=1e-12)


def test_batched_vector_right_hand_sides_are_deprecated_as_in_jax(x64):
    a, b = _draw((2, 3, 3)) + 3 * np.eye(3), _draw((2, 3), seed=1)
    with pytest.warns(FutureWarning, match=r"b\[\.\.\., None\]"):
        got = sl.solve_triangular(a, b, lower=True)
    np.testing.assert_allclose(np.asarray(got), np.linalg.solve(np.tril(a), b[..., None])[..., 0])


def test_gradients_match_finite_differences(x64):
    def solves(a, b):
        spd = a @ a.T + 3 * np.eye(3)
        return sl.cho_solve(sl.cho_factor(spd), b), sl.solve_triangular(a, b, lower=True)
    check_grads(spmd.jit(solves), (_draw((3, 3)) + 3 * np.eye(3), _draw((3, 2), seed=1)), order=1)


@pytest.mark.parametrize("call, error, match", [
    (lambda: sl.solve_triangular(np.eye(3), np.ones(2)), ValueError, "needs 3 rows"),
    (lambda: sl.solve_triangular(np.eye(2), np.ones(2), trans=3), ValueError, "trans must be"),
    (lambda: sl.cho_solve((np.ones((2, 3)), True), np.ones(2)), ValueError, "must be square"),
    (lambda: sl.solve(np.eye(2), np.ones(2), assume_a="tri"), ValueError, "assume_a must be"),
    (lambda: sl.qr(np.eye(2), mode="raw"), ValueError, "mode must be"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
