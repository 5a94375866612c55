"""jax.lax's random_gamma_grad under lax's conventions (float operands of one shape
and dtype, no promotion). igamma, igammac, igamma_grad_a and betainc are primitives
of transforms/lax/incomplete_gamma.py and incomplete_beta.py."""
from __future__ import annotations

from spmd.transforms import core
from spmd.transforms.lax.elementwise import FLOAT, elementwise_aval
from spmd.transforms.lax.random_gamma_grad import random_gamma_grad as random_gamma_grad_rule


def _checked(name, *operands):
    elementwise_aval(name, (FLOAT,), [core.get_aval(v) for v in operands])
    return operands


def random_gamma_grad(a, x):
    """The derivative in a of a Gamma(a, 1) sample x (implicit differentiation of P(a, x) = u
    at fixed u), under lax's operand rules; computed as JAX does, by the sampler's own rule
    (transforms/lax/random_gamma_grad.py)."""
    return random_gamma_grad_rule(*_checked("random_gamma_grad", a, x))
