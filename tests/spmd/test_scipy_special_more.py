"""spmd.scipy.special's gamma family, Bessel functions I0/I1, entropy terms and Box-Cox
transforms, and spmd.lax's incomplete gamma functions, against closed forms and series written
with Python's math module (SciPy is not a dependency), with their gradients against finite
differences, their dtypes, edges and errors."""
import math
from fractions import Fraction

import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.scipy import special
from tests.oracles import assert_close, check_grads


def vec(f):
    """f over arrays; nan where f has no value (ValueError: a pole or outside its domain)."""
    def safe(*x):
        try:
            return f(*x)
        except (ValueError, ZeroDivisionError):
            return np.nan
    return lambda *xs: np.vectorize(safe, otypes=[np.float64])(*xs)


def hurwitz_zeta(s, q, terms=40):
    """sum_k (k + q)^-s: the first terms summed, the rest by Euler-Maclaurin (to B_6)."""
    head = math.fsum((k + q) ** -s for k in range(terms))
    n = terms + q
    return head + n ** (1 - s) / (s - 1) + 0.5 * n ** -s + s / 12 * n ** (-s - 1) - (
        s * (s + 1) * (s + 2) / 720 * n ** (-s - 3)) + (
        s * (s + 1) * (s + 2) * (s + 3) * (s + 4) / 30240 * n ** (-s - 5))


def trigamma_family(n, x):
    """polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    return (-1) ** (n + 1) * math.factorial(int(n)) * hurwitz_zeta(n + 1, x)


def bessel_i(order, x, terms=60):
    """I_order(x) = sum_k (x/2)^(2k + order) / (k! (k + order)!)."""
    return math.fsum((x / 2) ** (2 * k + order) / (math.factorial(k) * math.factorial(k + order))
                     for k in range(terms))


def gamma_series_p(a, x, terms=300):
    """P(a, x) = x^a e^-x sum_n x^n / Gamma(a + n + 1), any a > 0."""
    return math.fsum(math.exp((a + n) * math.log(x) - x - math.lgamma(a + n + 1))
                     for n in range(terms))


EULER_GAMMA = 0.5772156649015329


def exp1_series(x, terms=80):
    """E_1(x) = -gamma - log x - sum_k (-x)^k / (k k!), summed exactly in rationals."""
    return -EULER_GAMMA - math.log(x) - float(sum(
        Fraction(-x) ** k / (k * math.factorial(k)) for k in range(1, terms)))


def expn_closed(n, x):
    """E_n(x): for x < 2 upward from E_1's series by E_{k+1} = (e^-x - x E_k) / k; above, by
    Gauss-Laguerre quadrature of e^-x / x * integral of e^-s (1 + s / x)^-n."""
    if n == 0:
        return math.exp(-x) / x
    if x >= 2:
        s, w = np.polynomial.laguerre.laggauss(80)
        return math.exp(-x) / x * float(np.sum(w * (1 + s / x) ** -n))
    e = exp1_series(x)
    for k in range(1, int(n)):
        e = (math.exp(-x) - x * e) / k
    return e


def expi_closed(x):
    if x < 0:
        return -expn_closed(1, -x)
    return EULER_GAMMA + math.log(x) + float(sum(
        Fraction(x) ** k / (k * math.factorial(k)) for k in range(1, 200)))


def erfcx_closed(x):
    """exp(x^2) erfc(x), by Laplace's continued fraction
    1 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))) for x > 3."""
    if x <= 3:
        return math.exp(x * x) * math.erfc(x)
    tail = x
    for k in range(200, 0, -1):
        tail = x + (k / 2) / tail
    return 1 / math.sqrt(math.pi) / tail


def dawson_series(x, terms=300):
    """D(x) = sum_k (-2)^k x^(2k+1) / (2k+1)!!, summed exactly in rationals."""
    total, term = Fraction(0), Fraction(x)
    for k in range(terms):
        total += term
        term *= Fraction(-2) * Fraction(x) ** 2 / (2 * k + 3)
    return float(total)


def spence_quadrature(x):
    """The integral from 1 to x of log(t) / (1 - t), by 80-point Gauss-Legendre quadrature (the
    integrand is smooth there: its singularity is at t = 0)."""
    if x == 1:
        return 0.0
    t, w = np.polynomial.legendre.leggauss(80)
    t = (x - 1) / 2 * t + (x + 1) / 2
    return float((x - 1) / 2 * np.sum(w * np.log(t) / (1 - t)))


def exact_series(x, terms, coefficient):
    """sum over j < terms of coefficient(j) x^j, in rationals (exact for the float x given)."""
    return float(sum(coefficient(j) * Fraction(x) ** j for j in range(terms)))


def sine_integral(x):
    return exact_series(x, 120, lambda j: Fraction((-1) ** (j // 2), j * math.factorial(j))
                        if j % 2 else 0)


def cosine_integral(x):
    return EULER_GAMMA + math.log(abs(x)) + exact_series(
        abs(x), 120, lambda j: Fraction((-1) ** (j // 2), j * math.factorial(j))
        if j and j % 2 == 0 else 0)


PI_2 = Fraction(math.pi) / 2


def fresnel_s(x):
    """sum_k (-1)^k (pi/2)^(2k+1) x^(4k+3) / ((2k+1)! (4k+3))"""
    return exact_series(x, 600, lambda j: (-1) ** (j // 4) * PI_2 ** ((j - 1) // 2) / (
        math.factorial((j - 1) // 2) * j) if j % 4 == 3 else 0)


def fresnel_c(x):
    return exact_series(x, 600, lambda j: (-1) ** (j // 4) * PI_2 ** ((j - 1) // 2) / (
        math.factorial((j - 1) // 2) * j) if j % 4 == 1 else 0)


def bessel_j(order, x):
    """J_order(x) = sum_k (-1)^k (x/2)^(2k + order) / (k! (k + order)!), in rationals."""
    return float(sum(Fraction(-1) ** k * (Fraction(x) / 2) ** (2 * k + order)
                     / (math.factorial(k) * math.factorial(k + order)) for k in range(80)))


def kummer_series(a, b, x, terms=300):
    total, term = Fraction(0), Fraction(1)
    for k in range(terms):
        total += term
        term *= Fraction(a + k) * Fraction(x) / (Fraction(b + k) * (k + 1))
    return float(total)


def owens_t_simpson(h, a, n=20001):
    """Owen's T by composite Simpson's rule on its defining integral over [0, a]."""
    x = np.linspace(0, a, n)
    f = np.exp(-h * h * (1 + x * x) / 2) / (1 + x * x)
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return float(np.sum(w * f) * (x[1] - x[0]) / 3 / (2 * math.pi))


def multigammaln_closed(a, d):
    return d * (d - 1) / 4 * math.log(math.pi) + sum(math.lgamma(a - j / 2) for j in range(d))


def rel_entr_closed(p, q):
    if p > 0 and q > 0:
        return p * math.log(p / q)
    return 0.0 if p == 0 and q >= 0 else math.inf


def boxcox_closed(x, lmbda):
    return math.log(x) if lmbda == 0 else (x ** lmbda - 1) / lmbda


# every input has 6 elements, so the eager programs of one shape are shared by the cases
X = np.array([-2.5, -0.5, 0.5, 1.0, 3.3, 7.0])
POS = np.array([0.25, 0.5, 1.0, 2.5, 4.0, 9.5])
N = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 7.0])
K = np.array([0.0, 1.0, 3.0, 2.0, 4.0, 7.0])
B = np.array([0.5, 1.5, 2.0, 0.75, 3.0, 1.25])
LMBDA = np.array([0.0, 0.5, -1.0, 2.0, 1e-3, 1.5])
PQ = np.array([0.0, 0.3, 1.0, 2.0, 0.7, 5.0])
SMALL = np.array([-4.0, -1.5, -0.2, 0.3, 2.0, 6.0])

# name -> (spmd function, oracle in float64, inputs, relative tolerance in float64)
CASES = {
    "gamma": (special.gamma, vec(math.gamma), (X,), 1e-12),
    "gammasgn": (special.gammasgn, vec(lambda x: math.copysign(1, math.gamma(x))), (X,), 0),
    "loggamma": (special.loggamma, vec(lambda x: math.lgamma(x) if x > 0 else math.nan), (X,),
                 1e-12),
    "beta": (special.beta, vec(lambda a, b: math.gamma(a) * math.gamma(b) / math.gamma(a + b)),
             (X, B), 1e-12),
    "factorial": (special.factorial, vec(lambda n: math.gamma(n + 1) if n >= 0 else 0.0),
                  (np.array([-1.0, 0.0, 1.0, 5.0, 10.0, 2.5]),), 1e-12),
    "comb": (special.comb, vec(lambda n, k: math.comb(int(n), int(k)) if 0 <= k <= n else 0.0),
             (N, K), 1e-12),
    "comb repetition": (lambda n, k: special.comb(n, k, repetition=True),
                        vec(lambda n, k: math.comb(int(n + k - 1), int(k)) if k else 1.0),
                        (N + 1, K), 1e-12),
    "poch": (special.poch, vec(lambda z, m: math.gamma(z + m) / math.gamma(z)), (POS, B), 1e-12),
    "multigammaln": (lambda a: special.multigammaln(a, 3), vec(lambda a: multigammaln_closed(a, 3)),
                     (POS + 1.5,), 1e-12),
    "polygamma": (lambda x: special.polygamma(np.array([1, 2, 3, 1, 2, 4]), x),
                  vec(lambda x, n: trigamma_family(n, x)), (POS, np.array([1, 2, 3, 1, 2, 4])),
                  1e-10),
    "zeta": (special.zeta, vec(hurwitz_zeta), (B + 1.5, POS), 1e-10),
    "i0": (special.i0, vec(lambda x: bessel_i(0, x)), (SMALL,), 1e-12),
    "i0e": (special.i0e, vec(lambda x: bessel_i(0, x) * math.exp(-abs(x))), (SMALL,), 1e-12),
    "i1": (special.i1, vec(lambda x: bessel_i(1, x)), (SMALL,), 1e-12),
    "i1e": (special.i1e, vec(lambda x: bessel_i(1, x) * math.exp(-abs(x))), (SMALL,), 1e-12),
    "entr": (special.entr,
             vec(lambda x: -x * math.log(x) if x > 0 else (0 if x == 0 else -math.inf)),
             (np.array([-1.0, 0.0, 0.25, 1.0, 2.0, 7.0]),), 1e-12),
    "rel_entr": (special.rel_entr, vec(rel_entr_closed), (PQ, PQ[::-1]), 1e-12),
    "kl_div": (special.kl_div, vec(lambda p, q: rel_entr_closed(p, q) - p + q), (PQ, PQ[::-1]),
               1e-12),
    "boxcox": (special.boxcox, vec(boxcox_closed), (POS, LMBDA), 1e-12),
    "boxcox1p": (special.boxcox1p, vec(lambda x, lm: boxcox_closed(1 + x, lm)), (POS, LMBDA),
                 1e-12),
    "erfcx": (special.erfcx, vec(erfcx_closed),
              (np.array([-3.0, -0.5, 0.0, 2.0, 8.5, 30.0]),), 1e-12),
    "exp1": (special.exp1, vec(lambda x: expn_closed(1, x)), (POS,), 1e-12),
    "expi": (special.expi, vec(expi_closed), (np.array([-3.0, -0.5, 0.1, 2.0, 20.0, 45.0]),),
             1e-12),
    "expn": (special.expn, vec(expn_closed), (np.array([0.0, 1.0, 2.0, 3.0, 5.0, 2.0]), POS),
             1e-12),
    "dawsn": (special.dawsn, vec(dawson_series), (np.array([-6.5, -1.0, 0.3, 2.0, 5.9, 6.1]),),
              1e-12),
    "spence": (special.spence, vec(spence_quadrature),
               (np.array([0.2, 0.5, 1.0, 1.7, 2.5, 10.0]),), 1e-12),
    "hyp1f1": (special.hyp1f1, vec(kummer_series),
               (np.array([0.5, 1.0, 2.0, 3.0, 0.0, 2.0]), np.array([1.5, 2.0, 1.0, 5.0, 1.0, 2.0]),
                np.array([0.3, -2.0, 5.0, -10.0, 3.0, 1.0])), 1e-12),
    "si": (lambda x: special.sici(x)[0], vec(lambda x: math.copysign(sine_integral(abs(x)), x)),
           (np.array([0.5, 1.9, 2.1, 5.0, 20.0, -3.0]),), 1e-13),
    "ci": (lambda x: special.sici(x)[1], vec(cosine_integral),
           (np.array([0.5, 1.9, 2.1, 5.0, 20.0, -3.0]),), 1e-12),
    "fresnel s": (lambda x: special.fresnel(x)[0], vec(lambda x: math.copysign(fresnel_s(abs(x)),
                                                                                x)),
                  (np.array([0.5, 1.4, 1.6, 3.0, 7.0, -2.0]),), 1e-12),
    "fresnel c": (lambda x: special.fresnel(x)[1], vec(lambda x: math.copysign(fresnel_c(abs(x)),
                                                                                x)),
                  (np.array([0.5, 1.4, 1.6, 3.0, 7.0, -2.0]),), 1e-12),
    "owens_t": (special.owens_t, vec(owens_t_simpson),
                (np.array([0.0, 0.5, -1.0, 2.0, 5.0, 1.0]),
                 np.array([0.5, 1.0, 3.0, -0.3, 0.9, 4.0])), 1e-11),
}
# polygamma's second input is the order, given inside the spmd function
ONLY_FIRST = {"polygamma"}


def spmd_args(name, args):
    return args[:1] if name in ONLY_FIRST else args


@pytest.mark.parametrize("name", CASES)
def test_float64_against_closed_forms(name, x64):
    fn, oracle, args, rtol = CASES[name]
    out = fn(*spmd_args(name, args))
    assert out.dtype == np.float64
    assert_close(out, oracle(*args), rtol=rtol, atol=0)


@pytest.mark.parametrize("name", CASES)
def test_float32(name):
    fn, oracle, args, _ = CASES[name]
    args32 = tuple(a.astype(np.float32) if a.dtype.kind == "f" else a for a in args)
    with np.errstate(under="ignore", over="ignore"):
        want = oracle(*(a.astype(np.float64) for a in args32)).astype(np.float32)
    out = np.asarray(fn(*spmd_args(name, args32)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=5e-5, atol=1e-6)


def test_integer_and_scalar_inputs_become_the_default_float():
    assert special.gamma(4).dtype == np.float32
    assert float(special.gamma(4)) == pytest.approx(6.0, rel=1e-5)
    assert special.comb(np.int32(5), np.int32(2)).dtype == np.float32
    assert float(special.factorial(3)) == pytest.approx(6.0, rel=1e-6)
    assert special.i0(np.int8(1)).shape == ()


def test_edges_follow_scipy():
    inf, nan = np.inf, np.nan
    edges = np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan], np.float32)
    assert_close(special.gammasgn(edges), np.array([1, -1, nan, nan, 1, nan], np.float32))
    assert_close(special.gamma(edges), np.array([inf, -inf, nan, nan, inf, nan], np.float32))
    assert_close(special.loggamma(edges[:3]), np.array([nan, nan, nan], np.float32))
    assert_close(special.poch(np.float32(3.0), np.float32(0.0)), np.float32(1.0))
    assert_close(special.rel_entr(np.float32(1.0), np.float32(-1.0)), np.float32(inf))
    # hyp1f1: inf at b == 0, and JAX's 1 where a == b == 0 too
    assert_close(special.hyp1f1(np.float32([0, 1, 2]), np.float32([0, 0, 2]), np.float32(1)),
                 np.array([1, inf, math.e], np.float32))


@pytest.mark.parametrize("name", ["gamma", "loggamma", "beta", "poch", "multigammaln",
                                  "polygamma", "zeta", "i0", "i1", "i0e", "i1e", "entr",
                                  "rel_entr", "kl_div", "boxcox", "boxcox1p", "erfcx", "exp1",
                                  "expi", "expn", "dawsn", "spence", "hyp1f1", "si",
                                  "ci", "fresnel s", "fresnel c", "owens_t"])
def test_gradients(name, x64):
    fn, _, args, _ = CASES[name]
    args = spmd_args(name, args)
    if name in ("rel_entr", "kl_div"):  # away from the kinks at p == 0 and q == 0
        args = (PQ + 0.5, PQ[::-1] + 0.25)
    if name in ("gamma", "beta", "loggamma"):  # away from the poles
        args = tuple(np.abs(a) + 0.25 for a in args)
    if name == "entr":
        args = (POS,)
    if name == "expn":  # differentiable in x only, as in JAX
        n, x = args
        fn, args = (lambda x: special.expn(n, x)), (x,)
    check_grads(fn, args, order=1, rtol=1e-5, atol=1e-7)


def test_bessel_jn_stacks_the_orders_first(x64):
    z = np.array([[0.5, 1.0, 5.0], [12.0, 0.0, -3.0]])
    out = special.bessel_jn(z, v=3)
    assert out.shape == (4, 2, 3) and out.dtype == np.float64
    assert_close(out, np.array([[[bessel_j(n, x) for x in row] for row in z]
                                for n in range(4)]), rtol=1e-12, atol=1e-15)
    slope = spmd.grad(lambda x: special.bessel_jn(x, v=1)[0])(1.0)  # J_0' = -J_1
    assert float(slope) == pytest.approx(-bessel_j(1, 1.0), rel=1e-10)
    out32 = special.bessel_jn(np.float32(2.0), v=1)
    assert out32.dtype == np.float32 and out32.shape == (2,)
    with pytest.raises(TypeError, match="bessel_jn's v must be a static Python integer"):
        special.bessel_jn(1.0, v=1.5)
    with pytest.raises(ValueError, match="bessel_jn needs 0 <= v <= n_iter; got v=5, n_iter=3"):
        special.bessel_jn(1.0, v=5, n_iter=3)


def test_owens_t_closed_forms(x64):
    h = np.array([0.0, 0.0, 1.3, -2.0, 0.7, 3.0])
    a = np.array([3.0, -0.5, 1.0, 1.0, 0.0, -1.0])
    normal_cdf = vec(lambda x: 0.5 * math.erfc(-x / math.sqrt(2)))
    # T(0, a) = atan(a) / (2 pi), T(h, +-1) = +-cdf(h) (1 - cdf(h)) / 2, T(h, 0) = 0
    want = np.where(h == 0, np.arctan(a) / (2 * math.pi),
                    a * normal_cdf(h) * (1 - normal_cdf(h)) / 2)
    assert_close(special.owens_t(h, a), want, rtol=1e-13, atol=1e-300)


def test_bernoulli_numbers():
    # B_0..B_12 (B_1 = -1/2), and B_30 from zeta(2k) = (-1)^(k+1) B_2k (2 pi)^2k / (2 (2k)!)
    b = special.bernoulli(12)
    assert b.dtype == np.float32 and b.shape == (13,)
    want = [1, -1 / 2, 1 / 6, 0, -1 / 30, 0, 1 / 42, 0, -1 / 30, 0, 5 / 66, 0, -691 / 2730]
    assert_close(b, np.array(want, np.float32), rtol=1e-7)
    b30 = np.asarray(special.bernoulli(30), np.float64)
    zeta30 = hurwitz_zeta(30, 1.0)
    assert b30[30] == pytest.approx(2 * math.factorial(30) * zeta30 / (2 * math.pi) ** 30,
                                    rel=1e-6)
    assert_close(special.bernoulli(0), np.array([1.0], np.float32))


def test_exponential_integral_edges(x64):
    # 6 elements each, the shape of the cases above (their eager programs are reused)
    inf, nan = np.inf, np.nan
    assert_close(special.expn(np.array([0.0, 1.0, 3.0, 1.5, -1.0, 2.0]),
                              np.array([0.0, 0.0, 0.0, 1.0, 1.0, -1.0])),
                 np.array([inf, inf, 0.5, nan, nan, nan]))
    assert_close(special.exp1(np.array([0.0, inf, -1.0, nan, 1e3, 1e-30])),
                 np.array([inf, 0.0, nan, nan, 0.0, -EULER_GAMMA - math.log(1e-30)]))
    assert_close(special.expi(np.array([0.0, -inf, nan, -1e3, 1e3, 1e-30])),
                 np.array([-inf, -0.0, nan, -0.0, inf, EULER_GAMMA + math.log(1e-30)]))
    assert_close(special.spence(np.array([0.0, 2.0, -1.0, nan, inf, 0.5])),
                 np.array([math.pi ** 2 / 6, -math.pi ** 2 / 12, nan, nan, -inf,
                           math.pi ** 2 / 12 - math.log(2) ** 2 / 2]), rtol=1e-14)
    assert_close(special.dawsn(np.array([0.0, -0.0, 1e4, -1e4, nan, inf])),
                 np.array([0.0, 0.0, 0.5e-4 * (1 + 0.5e-8), -0.5e-4 * (1 + 0.5e-8), nan, 0.0]),
                 rtol=1e-14)
    assert_close(special.erfcx(np.array([1e5, -30.0, nan, inf, 0.0, 1e-8])),
                 np.array([1 / (1e5 * math.sqrt(math.pi)), inf, nan, 0.0, 1.0,
                           1 - 2e-8 / math.sqrt(math.pi)]), rtol=1e-12)


def test_zeta_slope_in_x_is_the_riemann_constant(x64):
    # zeta'(2) = -0.93754825431584375 (the derivative of Riemann's zeta at 2)
    assert float(spmd.grad(special.zeta)(2.0, 1.0)) == pytest.approx(-0.93754825431584375,
                                                                     rel=1e-13)


def faddeeva_series(z, terms=200):
    """w(z) = sum_n (i z)^n / Gamma(n/2 + 1), its real and imaginary parts summed by fsum."""
    values = [(1j * z) ** n / math.gamma(n / 2 + 1) for n in range(terms)]
    return complex(math.fsum(v.real for v in values), math.fsum(v.imag for v in values))


def test_wofz_against_its_series_and_closed_forms(x64):
    z = np.array([0.5 + 0.5j, -1 + 0.3j, 2 - 1j, 0j, 1.5j, -0.7 - 1.2j])
    out = special.wofz(z)
    assert out.dtype == np.complex128
    assert_close(out, np.array([faddeeva_series(v) for v in z]), rtol=1e-12)
    # on the real line w(x) = exp(-x^2) + 2 i D(x) / sqrt(pi); on the imaginary axis erfcx
    x = np.array([-3.0, 0.2, 1.0, 2.5, 5.0, 6.0])
    assert_close(special.wofz(x), np.exp(-x ** 2) + 2j / math.sqrt(math.pi) * vec(
        dawson_series)(x), rtol=1e-12)
    assert_close(special.wofz(1j * x[x > 0]), vec(erfcx_closed)(x[x > 0]).astype(complex),
                 rtol=1e-12)
    # w'(z) = -2 z w(z) + 2 i / sqrt(pi): on the real line d Re w / dx = -2 x exp(-x^2)
    assert float(spmd.grad(lambda x: special.wofz(x).real)(1.0)) == pytest.approx(
        -2 * math.exp(-1), rel=1e-12)


def test_wofz_keeps_the_precision():
    assert special.wofz(np.float32(1.0)).dtype == np.complex64
    assert special.wofz(np.complex64(1j)).dtype == np.complex64


def legendre_rodrigues(m, l, x, derivative=False):
    """P_l^m(x) = (-1)^m (1 - x^2)^(m/2) d^m/dx^m P_l(x) from NumPy's Legendre polynomials, or
    its derivative in x; 0 for m > l."""
    if m > l:
        return np.zeros_like(x)
    q = np.polynomial.legendre.Legendre.basis(l).deriv(m)
    if not derivative:
        return (-1) ** m * (1 - x * x) ** (m / 2) * q(x)
    return (-1) ** m * (-m * x * (1 - x * x) ** (m / 2 - 1) * q(x)
                        + (1 - x * x) ** (m / 2) * q.deriv(1)(x))


def test_lpmn_against_rodrigues_formula(x64):
    x, n = np.array([-0.9, -0.3, 0.0, 0.4, 0.8, 0.95]), 4
    values, slopes = special.lpmn(n, n, x)
    assert values.shape == slopes.shape == (n + 1, n + 1, 6)
    grid = [(m, l) for m in range(n + 1) for l in range(n + 1)]
    want = np.array([legendre_rodrigues(m, l, x) for m, l in grid]).reshape(values.shape)
    assert_close(values, want, rtol=1e-12, atol=1e-13)
    assert_close(slopes, np.array([legendre_rodrigues(m, l, x, True) for m, l in grid]
                                  ).reshape(values.shape), rtol=1e-12, atol=1e-12)
    # normalized: sqrt((2l + 1) / (4 pi) (l - m)! / (l + m)!) P_l^m
    norm = np.array([math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m)
                               / math.factorial(l + m)) if m <= l else 0.0 for m, l in grid])
    assert_close(special.lpmn_values(n, n, x, is_normalized=True),
                 norm.reshape(n + 1, n + 1, 1) * want, rtol=1e-12, atol=1e-13)
    assert_close(special.lpmn_values(n, n, x, is_normalized=False), want, rtol=1e-12,
                 atol=1e-13)


def test_sph_harm_y_against_closed_forms(x64):
    n, m = np.array([0, 1, 1, 1, 2, 2]), np.array([0, 0, 1, -1, 2, -1])
    theta, phi = np.array([0.3, 0.7, 1.1, 2.0, 0.5, 2.5]), np.array([0.1, 1, 2, 3, 4, 5.0])
    s, c, e = np.sin(theta), np.cos(theta), np.exp(1j * m * phi)
    want = np.array([1 / (2 * math.sqrt(math.pi)), math.sqrt(3 / (4 * math.pi)) * c[1],
                     -math.sqrt(3 / (8 * math.pi)) * s[2], math.sqrt(3 / (8 * math.pi)) * s[3],
                     0.25 * math.sqrt(15 / (2 * math.pi)) * s[4] ** 2,
                     0.5 * math.sqrt(15 / (2 * math.pi)) * s[5] * c[5]]) * e
    out = special.sph_harm_y(n, m, theta, phi)
    assert out.dtype == np.complex128
    assert_close(out, want, rtol=1e-13, atol=1e-15)
    assert special.sph_harm_y(1, 1, np.float32(0.5), np.float32(0.2)).shape == (1,)
    with pytest.raises(NotImplementedError, match="'diff_n' argument to sph_harm_y"):
        special.sph_harm_y(n, m, theta, phi, diff_n=1)


def test_hyp2f1_against_closed_forms(x64):
    x = np.array([-3.0, -0.5, 0.3, 0.7, 0.9, 0.05])
    # 2F1(1, 1; 2; x) = -log(1 - x) / x; 2F1(a, b; b; x) = (1 - x)^-a
    assert_close(special.hyp2f1(1.0, 1.0, 2.0, x), -np.log1p(-x) / x, rtol=1e-12)
    assert_close(special.hyp2f1(2.5, 3.0, 3.0, x), (1 - x) ** -2.5, rtol=1e-12)
    # 2F1(1/2, 1/2; 3/2; y^2) = asin(y) / y; Gauss's theorem at 1; nan beyond 1
    y = np.array([0.1, 0.5, 0.9, 0.3, 0.6, 0.8])
    assert_close(special.hyp2f1(0.5, 0.5, 1.5, y ** 2), np.arcsin(y) / y, rtol=1e-12)
    edge = special.hyp2f1(0.5, 1.0, np.array([3.0, 1.0, 3.0, 3.0, 3.0, 3.0]),
                          np.array([1.0, 1.0, 1.5, np.nan, 0.0, -1.0]))
    gauss = math.gamma(3) * math.gamma(1.5) / (math.gamma(2.5) * math.gamma(2))
    pfaff = 2 ** -0.5 * gauss_series(0.5, 2.0, 3.0, 0.5)
    assert_close(edge, np.array([gauss, np.nan, np.nan, np.nan, 1.0, pfaff]), rtol=1e-12)
    check_grads(lambda x: special.hyp2f1(1.0, 1.5, 2.5, x), (x,), order=1, rtol=1e-6)


def gauss_series(a, b, c, x, terms=200):
    """2F1's series summed exactly in rationals (|x| <= 1/2: 2^-200 is far below rounding)."""
    total, term = Fraction(0), Fraction(1)
    for k in range(terms):
        total += term
        term *= Fraction(a + k) * Fraction(b + k) * Fraction(x) / (Fraction(c + k) * (k + 1))
    return float(total)


def test_lpmn_errors():
    x = np.array([0.5], np.float32)
    assert special.lpmn_values(1, 1, x, False).dtype == np.float32
    with pytest.raises(NotImplementedError, match="m!=n are not yet supported"):
        special.lpmn(1, 2, x)
    with pytest.raises(ValueError, match="z must be a 1D array"):
        special.lpmn(1, 1, np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="z.dtype=int32 is not supported by lpmn"):
        special.lpmn(1, 1, np.ones(2, np.int32))


def test_entr_slope_at_zero_is_infinite_not_nan():
    assert float(spmd.grad(special.entr)(0.0)) == np.inf


def test_transforms_compose():
    assert_close(spmd.jit(spmd.vmap(special.gamma))(np.array([1.0, 5.0], np.float32)),
                 np.array([1.0, 24.0], np.float32), rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="Argument `n` to polygamma must be of integer type"):
        special.polygamma(1.0, 2.0)
    with pytest.raises(NotImplementedError, match="pass q != None"):
        special.zeta(2.0)
    with pytest.raises(NotImplementedError, match="exact=True is not supported"):
        special.factorial(3, exact=True)
    with pytest.raises(TypeError, match="multigammaln's d must be a static Python integer"):
        special.multigammaln(3.0, 2.5)
    with pytest.raises(TypeError, match="bernoulli's n must be a static Python integer"):
        special.bernoulli(2.0)
    with pytest.raises(ValueError, match="n must be a non-negative integer; got -1"):
        special.bernoulli(-1)
    with pytest.raises(ValueError, match="gamma does not support complex-valued inputs"):
        special.gamma(1j)


# ---------------------------------------------------------------- lax's incomplete gamma
GA = np.array([0.5, 1.0, 2.5, 4.0, 7.0, 3.0])
GX = np.array([0.2, 3.0, 1.0, 9.0, 2.0, 2.9])


def d_da(f, a, x, h=1e-5):
    return (f(a + h, x) - f(a - h, x)) / (2 * h)


def test_lax_igamma_family_float64(x64):
    p = vec(gamma_series_p)
    assert_close(lax.igamma(GA, GX), p(GA, GX), rtol=1e-12)
    assert_close(lax.igammac(GA, GX), 1 - p(GA, GX), rtol=1e-10)
    dp_da = d_da(p, GA, GX)
    assert_close(lax.igamma_grad_a(GA, GX), dp_da, rtol=1e-7)
    density = np.exp((GA - 1) * np.log(GX) - GX - vec(math.lgamma)(GA))
    assert_close(lax.random_gamma_grad(GA, GX), -dp_da / density, rtol=1e-7)
    assert_close(lax.betainc(B, B[::-1], np.full(6, 0.5)),
                 special.betainc(B, B[::-1], 0.5), rtol=0)


def test_lax_igamma_family_float32_and_transforms():
    a, x = GA.astype(np.float32), GX.astype(np.float32)
    out = spmd.jit(spmd.vmap(lax.random_gamma_grad))(a, x)
    assert out.dtype == np.float32
    want = -d_da(vec(gamma_series_p), GA, GX) / np.exp(
        (GA - 1) * np.log(GX) - GX - vec(math.lgamma)(GA))
    np.testing.assert_allclose(out, want, rtol=1e-4)


def test_lax_igamma_takes_lax_operands_only():
    with pytest.raises(TypeError, match="igamma got operands of different dtypes"):
        lax.igamma(np.float32(1.0), np.int32(1))
    with pytest.raises(TypeError, match="random_gamma_grad does not accept int32 operands"):
        lax.random_gamma_grad(np.int32(1), np.int32(1))
    with pytest.raises(TypeError, match="betainc got operands of different shapes"):
        lax.betainc(np.ones(2, np.float32), np.ones(3, np.float32), np.ones(2, np.float32))
