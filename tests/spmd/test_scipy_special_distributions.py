"""spmd.scipy.special's normal-distribution and incomplete gamma/beta functions (erfc, ndtr,
log_ndtr, ndtri, gammainc, gammaincc, betainc, betaln) against closed forms from Python's math
and statistics modules (SciPy is not a dependency), in the tails too, with their gradients
against finite differences."""
import math
import statistics

import numpy as np
import pytest

import spmd
from spmd.scipy import special
from tests.oracles import assert_close, check_grads

NORMAL = statistics.NormalDist()


def vec(f):
    """f over arrays; nan where f has no value (ValueError: outside its domain)."""
    def safe(*x):
        try:
            return f(*x)
        except ValueError:
            return np.nan
    return lambda *xs: np.vectorize(safe, otypes=[np.float64])(*xs)


def erlang_p(a, x):
    """P(a, x) for integer a: 1 - e^-x sum_{k<a} x^k / k!."""
    return 1 - math.exp(-x) * sum(x ** k / math.factorial(k) for k in range(int(a)))


def half_integer_p(a, x):
    """P(k + 1/2, x) = erf(sqrt x) - e^-x sum_{j<k} x^(j+1/2) / Gamma(j + 3/2)."""
    k = int(a - 0.5)
    return math.erf(math.sqrt(x)) - math.exp(-x) * sum(
        x ** (j + 0.5) / math.gamma(j + 1.5) for j in range(k))


def log_normal_cdf(x):
    upper_tail = 0.5 * math.erfc(abs(x) / math.sqrt(2))
    return math.log(upper_tail) if x < 0 else math.log1p(-upper_tail)


def regularized_gamma_p(a, x):
    return erlang_p(a, x) if a == int(a) else half_integer_p(a, x)


def integer_betainc(a, b, x):
    """I_x(a, b) for integers: P(Binomial(a + b - 1, x) >= a)."""
    n = int(a + b - 1)
    return sum(math.comb(n, j) * x ** j * (1 - x) ** (n - j) for j in range(int(a), n + 1))


# every input has 6 elements: the eager programs of one shape are compiled once for all tests
A = np.array([0.5, 1.0, 2.5, 4.0, 7.0, 30.0])
GX = np.array([0.2, 3.0, 1.0, 9.0, 2.0, 28.0])  # both sides of x = a + 1
BA = np.array([1.0, 2.0, 3.0, 5.0, 1.0, 12.0])
BB = np.array([1.0, 4.0, 2.0, 5.0, 7.0, 9.0])
BX = np.array([0.3, 0.05, 0.9, 0.5, 0.99, 0.6])
Z = np.array([-30.0, -9.0, -3.0, 0.0, 2.0, 9.0])
Q = np.array([1e-300, 1e-20, 0.02, 0.5, 0.999, 1 - 1e-7])

# name -> (spmd function, oracle in float64, inputs, relative tolerance in float64)
CASES = {
    "erfc": (special.erfc, vec(math.erfc), (np.array([-3, 0.3, 1.2, 1.3, 4, 26.]),),
             1e-13),
    "ndtr": (special.ndtr, vec(lambda x: 0.5 * math.erfc(-x / math.sqrt(2))), (Z,), 1e-13),
    "log_ndtr": (special.log_ndtr, vec(log_normal_cdf), (Z,), 1e-12),
    "ndtri": (special.ndtri, vec(NORMAL.inv_cdf), (Q,), 1e-12),
    "gammainc": (special.gammainc, vec(regularized_gamma_p), (A, GX), 1e-12),
    "gammaincc": (special.gammaincc, vec(lambda a, x: 1 - regularized_gamma_p(a, x)), (A, GX),
                  1e-10),
    "betainc": (special.betainc, vec(integer_betainc), (BA, BB, BX), 1e-12),
    "betainc half": (lambda x: special.betainc(0.5, 0.5, x),
                     vec(lambda x: 2 / math.pi * math.asin(math.sqrt(x))), (BX,), 1e-12),
    "betaln": (special.betaln, vec(lambda a, b: math.lgamma(a) + math.lgamma(b)
                                   - math.lgamma(a + b)), (BA + 0.5, BB), 1e-12),
}


@pytest.mark.parametrize("name", CASES)
def test_float64_against_closed_forms(name, x64):
    fn, oracle, args, rtol = CASES[name]
    assert_close(fn(*args), oracle(*args), rtol=rtol, atol=0)


@pytest.mark.parametrize("name", CASES)
def test_float32(name):
    fn, oracle, args, _ = CASES[name]
    args32 = tuple(a.astype(np.float32) for a in args)
    with np.errstate(under="ignore"):
        want = oracle(*(a.astype(np.float64) for a in args32)).astype(np.float32)
    keep = np.isfinite(want) & (np.abs(want) > 1e-37)  # float32's normal range
    out = np.asarray(fn(*args32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[keep], want[keep], rtol=3e-5, atol=0)


def test_tails_that_one_minus_erf_would_lose(x64):
    assert float(special.erfc(np.float32(5.0))) == pytest.approx(math.erfc(5.0), rel=1e-5)
    assert float(special.ndtr(np.float32(-12.0))) == pytest.approx(
        0.5 * math.erfc(12 / math.sqrt(2)), rel=1e-4)
    # the asymptotic series, below where ndtr itself underflows
    assert float(special.log_ndtr(-1e3)) == pytest.approx(
        -500000 - math.log(1e3) - 0.5 * math.log(2 * math.pi) + math.log1p(-1e-6), rel=1e-14)
    assert float(special.gammaincc(3.0, 200.0)) == pytest.approx(
        math.exp(-200) * (1 + 200 + 200 ** 2 / 2), rel=1e-12)


def test_edges_follow_scipy():
    nan = np.nan
    assert_close(special.ndtri(np.array([0.0, 1.0, -0.5, 1.5, nan], np.float32)),
                 np.array([-np.inf, np.inf, nan, nan, nan], np.float32))
    assert_close(special.gammainc(np.array([2.0, 2.0, 0.0, -1.0, 2.0], np.float32),
                                  np.array([0.0, np.inf, 1.0, 1.0, -1.0], np.float32)),
                 np.array([0.0, 1.0, nan, nan, nan], np.float32))
    assert_close(special.gammaincc(np.float32(2.0), np.float32(0.0)), np.float32(1.0))
    assert_close(special.betainc(np.float32(2.0), np.float32(3.0),
                                 np.array([0.0, 1.0, -0.1, 1.1], np.float32)),
                 np.array([0.0, 1.0, nan, nan], np.float32))
    with pytest.raises(ValueError, match="series_order must be in \\[0, 30\\], got 31"):
        special.log_ndtr(1.0, series_order=31)


@pytest.mark.parametrize("name", ["erfc", "ndtr", "log_ndtr", "ndtri", "gammainc", "gammaincc",
                                  "betainc", "betaln"])
def test_gradients(name, x64):
    fn, _, args, _ = CASES[name]
    if name == "ndtri":
        args = (np.array([1e-2, 0.1, 0.4, 0.5, 0.6, 0.97]),)
    if name == "log_ndtr":
        args = (np.array([-25.0, -3.0, -0.5, 0.5, 3.0, 9.0]),)
    order = 2 if name == "ndtr" else 1
    check_grads(fn, args, order=order, rtol=1e-4, atol=1e-6)


def test_derivatives_are_the_densities(x64):
    def derivative(f, x):  # elementwise functions: the JVP along ones is the derivative
        return spmd.jvp(f, (x,), (np.ones_like(x),))[1]
    x = np.array([-5.0, -1.0, 0.0, 0.3, 2.0, 3.0])  # ndtri near p = 1 is ill-conditioned
    density = np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    assert_close(derivative(special.ndtr, x), density)
    p = 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2))
    assert_close(derivative(special.ndtri, p), 1 / density, rtol=1e-10)
    a, g = 2.5, np.array([0.1, 0.5, 1.7, 3.0, 4.0, 9.0])  # dP/dx is the gamma density
    assert_close(derivative(lambda v: special.gammainc(a, v), g),
                 g ** (a - 1) * np.exp(-g) / math.gamma(a))
