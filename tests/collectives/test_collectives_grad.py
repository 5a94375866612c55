"""Derivatives of every differentiable collective against central finite differences, with
forward and reverse mode consistent (<u, J v> = <J^T u, v> summed over all participants):
inside pmap (the JVP, the finite differences and the VJP all computed per device by one pmap)
and under vmap with an axis name (tests/oracles.check_grads, to second order). Also pins
psum's transpose: psum again, as in JAX."""
import numpy as np
import pytest

import spmd
from spmd import lax
from tests.collectives.cases import CASES, groups_for, inputs
from tests.oracles import assert_close, check_grads

EPS = 1e-6
DIFFERENTIABLE = [c for c in CASES if c.differentiable]


pytestmark = pytest.mark.usefixtures("x64")  # (tests/conftest.py)


def _grad_params():
    for case in DIFFERENTIABLE:
        yield pytest.param(case, None, id=str(case))
        if case.grouped:
            yield pytest.param(case, groups_for(4), id=f"{case}-groups")


@pytest.mark.parametrize("case,groups", list(_grad_params()))
def test_jvp_and_vjp_inside_pmap(case, groups):
    n = 4
    rng = np.random.default_rng(3)
    X = inputs(case, n, np.float64, groups) + rng.uniform(-0.1, 0.1, (n,) + case.shape(
        len(groups[0]) if groups else n))
    fun = lambda x: case.fun(x, "i", groups)  # noqa: E731
    Y = np.asarray(spmd.pmap(fun, axis_name="i")(X))
    V, U = rng.standard_normal(X.shape), rng.standard_normal(Y.shape)

    def per_device(x, v, u):
        _, jv = spmd.jvp(fun, (x,), (v,))
        _, vjp_fn = spmd.vjp(fun, x)
        return jv, fun(x + EPS * v), fun(x - EPS * v), vjp_fn(u)[0]
    jv, plus, minus, ju = spmd.pmap(per_device, axis_name="i")(X, V, U)
    assert_close(jv, (np.asarray(plus) - np.asarray(minus)) / (2 * EPS), rtol=1e-6, atol=1e-6)
    lhs, rhs = np.vdot(U, np.asarray(jv)), np.vdot(np.asarray(ju), V)
    assert np.isclose(lhs, rhs, rtol=1e-9), f"<u, J v> = {lhs} but <J^T u, v> = {rhs}"


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=str)
def test_grads_under_vmap(case):
    n = 4
    jitter = np.random.default_rng(4).uniform(-0.1, 0.1, (n,) + case.shape(n))
    X = inputs(case, n, np.float64) + jitter
    check_grads(spmd.vmap(lambda x: case.fun(x, "i", None), axis_name="i"), (X,), order=2)


def test_psum_transposes_to_psum():
    """JAX's convention: the gradient of sum(psum(x)) on each device is the axis size (each
    participant's cotangent is summed again), not 1 as an identity transpose would give."""
    X = np.arange(12.0).reshape(4, 3)
    g = spmd.grad(lambda v: lax.psum(v, "i").sum())
    assert_close(spmd.pmap(g, axis_name="i")(X), np.full_like(X, 4.0))
    assert_close(spmd.vmap(g, axis_name="i")(X), np.full_like(X, 4.0))
    U = np.arange(4.0)[:, None] * np.ones(3)
    pulled = spmd.pmap(lambda x, u: spmd.vjp(lambda v: lax.psum(v, "i"), x)[1](u)[0],
                       axis_name="i")(X, U)
    assert_close(pulled, np.broadcast_to(U.sum(0), X.shape))
