"""JAX's `accuracy=` (lax.Tolerance, lax.AccuracyMode) on the transcendental functions: the
values still match NumPy, the request reaches XLA as the result_accuracy attribute, grad and
vmap carry it, and bad tolerances or accuracy values are refused."""
import numpy as np
import pytest

import spmd
from spmd import lax
from tests.oracles import assert_close

X = np.linspace(0.1, 2.0, 7).astype(np.float32)
FUNCTIONS = [(lax.exp, np.exp), (lax.log, np.log), (lax.log1p, np.log1p),
             (lax.expm1, np.expm1), (lax.tanh, np.tanh),
             (lax.logistic, lambda x: 1 / (1 + np.exp(-x))),
             (lax.sin, np.sin), (lax.cos, np.cos), (lax.tan, np.tan), (lax.sqrt, np.sqrt),
             (lax.rsqrt, lambda x: 1 / np.sqrt(x)), (lax.cbrt, np.cbrt)]


@pytest.mark.parametrize("accuracy", [lax.AccuracyMode.HIGHEST, lax.Tolerance(atol=1e-5),
                                      lax.Tolerance(rtol=1e-3, ulps=2)])
def test_values_match_numpy(accuracy):
    for f, ref in FUNCTIONS:
        assert_close(f(X, accuracy=accuracy), ref(X).astype(np.float32))


def test_the_request_reaches_xla_and_survives_grad_and_vmap():
    f = lambda x: lax.exp(x, accuracy=lax.Tolerance(ulps=1))  # noqa: E731
    text = spmd.jit(f).lower(X).as_text()
    assert "result_accuracy" in text and "ulps = 1" in text and "TOLERANCE" in text
    mode = spmd.jit(lambda x: lax.sin(x, accuracy=lax.AccuracyMode.HIGHEST)).lower(X).as_text()
    assert "result_accuracy_mode<HIGHEST>" in mode
    assert "result_accuracy" not in spmd.jit(lax.exp).lower(X).as_text()
    assert_close(spmd.grad(lambda x: f(x).sum())(X), np.exp(X))
    assert_close(spmd.vmap(f)(X.reshape(7, 1)), np.exp(X).reshape(7, 1))


@pytest.mark.parametrize("make, exc, match", [
    (lambda: lax.Tolerance(atol=-1.0), ValueError, "must be non-negative"),
    (lambda: lax.Tolerance(), ValueError, "At least one of atol, rtol, or ulps"),
    (lambda: lax.exp(X, accuracy=1e-6), TypeError,
     "accuracy must be None, a lax.Tolerance or a lax.AccuracyMode"),
])
def test_misuses_say_what_is_wrong(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
