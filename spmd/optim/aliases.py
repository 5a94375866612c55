"""The optimizers users call, each a chain of building blocks (as optax defines them)."""
from __future__ import annotations

from spmd.optim.base import GradientTransformation, chain, identity
from spmd.optim.transformations import (add_decayed_weights, scale_by_adam,
                                        scale_by_learning_rate, trace)


def sgd(learning_rate, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, with (Nesterov) momentum when `momentum` is given."""
    if momentum is None and nesterov:
        raise ValueError("sgd: nesterov=True needs a momentum (e.g. momentum=0.9)")
    return chain(trace(momentum, nesterov) if momentum is not None else identity(),
                 scale_by_learning_rate(learning_rate))


def momentum(learning_rate, beta: float = 0.9, nesterov: bool = False) -> GradientTransformation:
    """SGD with heavy-ball momentum `beta` (sgd(learning_rate, momentum=beta))."""
    return sgd(learning_rate, momentum=beta, nesterov=nesterov)


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         eps_root: float = 0.0) -> GradientTransformation:
    """Adam (Kingma & Ba): bias-corrected moment estimates, then a descent step."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, weight_decay: float = 1e-4, mask=None) -> GradientTransformation:
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay is added to Adam's
    direction before the learning rate scales both, as in optax."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
