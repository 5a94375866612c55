"""Every differentiable elementwise primitive, differentiated six times (grad nested six times),
against an independent value of the sixth derivative: Cauchy's integral formula on NumPy's
complex version of the function, a closed form (erf's Hermite polynomials, polygamma's series,
erf_inv's recurrence), or 0 for piecewise linear ones. A rule that is right at low orders can
still break high ones (div's y*y squared the denominator at every order: 1/x's sixth derivative
overflowed float32), so each primitive is checked once at order six, in float64 and float32."""
import math

import numpy as np
import pytest

import spmd
from spmd.transforms import core, lax
from spmd.transforms.jvp import jvp_rules
from spmd.transforms.lax import elementwise

ORDER = 6


def cauchy(f, x, r, n=ORDER, points=64):
    """f^(n)(x) = n! / (2 pi i) * contour integral of f(z) / (z - x)^(n+1) on |z - x| = r (the
    trapezoid rule converges geometrically for f analytic on a wider disc)."""
    theta = 2 * np.pi * np.arange(points) / points
    values = f(x + r * np.exp(1j * theta)) * np.exp(-1j * n * theta)
    return math.factorial(n) / r ** n * float(np.real(np.mean(values)))


def polygamma_series(m, x, terms=400):
    """psi^(m)(x) = (-1)^(m+1) m! sum_k 1/(x+k)^(m+1), the tail by Euler-Maclaurin."""
    k = np.arange(terms)
    tail_at = x + terms
    total = np.sum(1.0 / (x + k) ** (m + 1)) + 1 / (m * tail_at ** m) + 1 / (2 * tail_at ** (m + 1))
    return (-1) ** (m + 1) * math.factorial(m) * total


def erf_sixth(x):
    """d^n erf = (-1)^(n-1) 2/sqrt(pi) H_(n-1)(x) exp(-x^2) (physicists' Hermite)."""
    hermite5 = np.polynomial.hermite.hermval(x, [0] * 5 + [1])
    return -2 / np.sqrt(np.pi) * hermite5 * np.exp(-x * x)


def erf_inv_sixth(x):
    """y = erf_inv(x), y' = c exp(y^2) with c = sqrt(pi)/2; by induction the n-th derivative is
    c^n P_n(y) exp(n y^2) with P_1 = 1 and P_(n+1) = P_n' + 2 n y P_n."""
    y = _erf_inv_newton(x)
    poly, c = np.polynomial.Polynomial([1.0]), np.sqrt(np.pi) / 2
    for n in range(1, ORDER):
        poly = poly.deriv() + np.polynomial.Polynomial([0, 2 * n]) * poly
    return c ** ORDER * poly(y) * np.exp(ORDER * y * y)


def _erf_inv_newton(x):
    erf = np.vectorize(math.erf)
    y = 0.0
    for _ in range(50):
        y -= (erf(y) - x) / (2 / np.sqrt(np.pi) * np.exp(-y * y))
    return float(y)


def _c(v):
    return np.float64(v)


def _logistic(z):
    return 1 / (1 + np.exp(-z))


# name (the primitive, ":" and which operand for binary ones) -> (function of x, x, 6th derivative)
CASES = {
    "exp": (lax.exp, 0.3, cauchy(np.exp, 0.3, 1.0)),
    "log": (lax.log, 1.5, cauchy(np.log, 1.5, 0.5)),
    "log1p": (lax.log1p, 0.5, cauchy(np.log1p, 0.5, 0.5)),
    "expm1": (lax.expm1, 0.3, cauchy(np.expm1, 0.3, 1.0)),
    "tanh": (lax.tanh, 0.3, cauchy(np.tanh, 0.3, 0.5)),
    "logistic": (lax.logistic, 0.3, cauchy(_logistic, 0.3, 1.0)),
    "sin": (lax.sin, 0.3, cauchy(np.sin, 0.3, 1.0)),
    "cos": (lax.cos, 0.3, cauchy(np.cos, 0.3, 1.0)),
    "tan": (lax.tan, 0.3, cauchy(np.tan, 0.3, 0.5)),
    "sqrt": (lax.sqrt, 2.0, cauchy(np.sqrt, 2.0, 0.5)),
    "rsqrt": (lax.rsqrt, 2.0, cauchy(lambda z: 1 / np.sqrt(z), 2.0, 0.5)),
    "cbrt": (lax.cbrt, 2.0, cauchy(lambda z: z ** (1 / 3), 2.0, 0.5)),
    "erf": (lax.erf, 0.4, erf_sixth(0.4)),
    "erf_inv": (lax.erf_inv, 0.3, erf_inv_sixth(0.3)),
    "lgamma": (lax.lgamma, 2.5, polygamma_series(5, 2.5)),
    "digamma": (lax.digamma, 2.5, polygamma_series(6, 2.5)),
    "polygamma:x": (lambda x: lax.polygamma(_c(1), x), 2.5, polygamma_series(7, 2.5)),
    "asin": (lax.asin, 0.3, cauchy(np.arcsin, 0.3, 0.3)),
    "acos": (lax.acos, 0.3, cauchy(np.arccos, 0.3, 0.3)),
    "atan": (lax.atan, 0.3, cauchy(np.arctan, 0.3, 0.5)),
    "sinh": (lax.sinh, 0.3, cauchy(np.sinh, 0.3, 1.0)),
    "cosh": (lax.cosh, 0.3, cauchy(np.cosh, 0.3, 1.0)),
    "asinh": (lax.asinh, 0.3, cauchy(np.arcsinh, 0.3, 0.5)),
    "acosh": (lax.acosh, 2.0, cauchy(np.arccosh, 2.0, 0.5)),
    "atanh": (lax.atanh, 0.3, cauchy(np.arctanh, 0.3, 0.3)),
    "abs": (lambda x: lax.abs(lax.integer_pow(x, 7)), -1.5, -math.factorial(7) * -1.5),
    "div:x": (lambda x: lax.div(lax.exp(x), _c(3.0)), 0.3, np.exp(0.3) / 3),
    "div:y": (lambda x: lax.div(_c(1.0), x), 4.0, math.factorial(6) / 4.0 ** 7),
    "mul": (lambda x: lax.mul(x, lax.sin(x)), 0.3, cauchy(lambda z: z * np.sin(z), 0.3, 1.0)),
    "pow:x": (lambda x: lax.pow(x, _c(2.5)), 1.5, cauchy(lambda z: z ** 2.5, 1.5, 0.5)),
    "pow:y": (lambda x: lax.pow(_c(1.5), x), 0.3, np.log(1.5) ** 6 * 1.5 ** 0.3),
    "integer_pow": (lambda x: lax.integer_pow(x, -3), 1.5, cauchy(lambda z: z ** -3.0, 1.5, 0.5)),
    "atan2:y": (lambda x: lax.atan2(x, _c(1.0)), 0.3, cauchy(np.arctan, 0.3, 0.5)),
    "atan2:x": (lambda x: lax.atan2(_c(1.0), x), 1.5, cauchy(lambda z: np.arctan(1 / z), 1.5, 0.5)),
    "rem:x": (lambda x: lax.rem(lax.exp(x), _c(1.0)), 0.3, np.exp(0.3)),
    "rem:y": (lambda x: lax.rem(_c(5.0), lax.exp(x)), 0.3, -math.floor(5 / np.exp(0.3))
              * np.exp(0.3)),
    "max": (lambda x: lax.max(lax.exp(x), _c(0.5)), 0.3, np.exp(0.3)),
    "min": (lambda x: lax.min(_c(5.0), lax.exp(x)), 0.3, np.exp(0.3)),
    "select": (lambda x: lax.select(lax.gt(x, _c(0.0)), lax.exp(x), lax.sin(x)), 0.3,
               np.exp(0.3)),
    # the linear ones, around a nonlinear function so that the sixth derivative is not zero
    "neg": (lambda x: lax.neg(lax.exp(lax.neg(x))), 0.3, -np.exp(-0.3)),
    "add": (lambda x: lax.add(lax.exp(x), lax.sin(x)), 0.3, np.exp(0.3) - np.sin(0.3)),
    "add_any": (lambda x: lax.add_any(lax.exp(x), lax.sin(x)), 0.3, np.exp(0.3) - np.sin(0.3)),
    "sub": (lambda x: lax.sub(lax.exp(x), lax.sin(x)), 0.3, np.exp(0.3) + np.sin(0.3)),
    "complex": (lambda x: lax.imag(lax.exp(lax.complex_(_c(0.0), x))), 0.3, -np.sin(0.3)),
    "real": (lambda x: lax.real(lax.exp(lax.complex_(x, _c(0.0)))), 0.3, np.exp(0.3)),
    "imag": (lambda x: lax.imag(lax.exp(lax.complex_(_c(0.0), x))), 0.3, -np.sin(0.3)),
    "conj": (lambda x: lax.imag(lax.conj(lax.exp(lax.complex_(_c(0.0), x)))), 0.3, np.sin(0.3)),
    "convert_element_type": (lambda x: lax.real(lax.exp(lax.convert_element_type(
        x, np.complex128))), 0.3, np.exp(0.3)),
}


def nth_derivative(f, n):
    for _ in range(n):
        f = spmd.grad(f)
    return f


@pytest.mark.parametrize("name", sorted(CASES))
def test_sixth_derivative_matches_an_independent_value(name, x64):
    f, x, expected = CASES[name]
    got = float(spmd.jit(nth_derivative(f, ORDER))(np.float64(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-9, err_msg=name)


def test_every_differentiable_elementwise_primitive_has_a_case():
    tested = {name.split(":")[0] for name in CASES}
    differentiable = {p.name for p in vars(elementwise).values() if isinstance(p, core.Primitive)
                      and p in jvp_rules
                      and not jvp_rules[p].__qualname__.startswith("defjvp_zero")}
    missing = differentiable - tested
    assert not missing, (f"add a row for {sorted(missing)} to CASES in {__file__}: each "
                         "differentiable elementwise primitive is checked at order six")


def test_sixth_derivative_of_reciprocal_in_float32():
    # the case: the first five were right, the sixth was -1.9560547 (y*y overflowed)
    f = nth_derivative(lambda x: 1 / x, ORDER)
    np.testing.assert_allclose(float(f(np.float32(4.0))), 0.0439453125, rtol=1e-6)
    np.testing.assert_allclose(float(f(4.0)), 0.0439453125, rtol=1e-6)
