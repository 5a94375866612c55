"""jax.lax's incomplete gamma and beta functions (igamma, igammac, igamma_grad_a,
random_gamma_grad, betainc): the series and continued fractions of spmd/scipy/_incomplete.py
under lax's conventions (float operands of one shape and dtype, no promotion). The derivatives
in the shape parameter are forward-mode derivatives of those fixed-length loops."""
from __future__ import annotations

import spmd.numpy as jnp
from spmd.scipy import _incomplete
from spmd.transforms import core
from spmd.transforms.api import jvp
from spmd.transforms.lax.elementwise import FLOAT, elementwise_aval
from spmd.transforms.lax.random_gamma_grad import random_gamma_grad as random_gamma_grad_rule


def _checked(name, *operands):
    elementwise_aval(name, (FLOAT,), [core.get_aval(v) for v in operands])
    return operands


def igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    return _incomplete.gammainc(*_checked("igamma", a, x))


def igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return _incomplete.gammaincc(*_checked("igammac", a, x))


def igamma_grad_a(a, x):
    """The derivative of P(a, x) in a."""
    a, x = _checked("igamma_grad_a", a, x)
    return jvp(lambda a: _incomplete.gammainc(a, x), (a,), (jnp.ones_like(a),))[1]


def random_gamma_grad(a, x):
    """The derivative in a of a Gamma(a, 1) sample x (implicit differentiation of P(a, x) = u
    at fixed u), under lax's operand rules; computed as JAX does, by the sampler's own rule
    (transforms/lax/random_gamma_grad.py)."""
    return random_gamma_grad_rule(*_checked("random_gamma_grad", a, x))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    return _incomplete.betainc(*_checked("betainc", a, b, x))
