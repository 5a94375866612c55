"""The building blocks optimizers are chained from, each a `GradientTransformation`:
scaling (by a constant, a learning rate or a schedule), momentum, Adam's moment estimates,
decoupled weight decay, and clipping by the global norm."""
from __future__ import annotations

from typing import Any, NamedTuple

from spmd import numpy as jnp
from spmd.optim.base import (EmptyState, GradientTransformation, increment, scale_leaf,
                             step_counter, zeros_like_tree)
from spmd.transforms import lax, tree_util


def scale(step_size: float) -> GradientTransformation:
    """Multiply every update by a constant."""
    return GradientTransformation(
        lambda params: EmptyState(),
        lambda updates, state, params=None: (
            tree_util.tree_map(lambda g: scale_leaf(g, step_size), updates), state))


class ScaleByScheduleState(NamedTuple):
    count: Any  # int32: updates made so far


def scale_by_schedule(schedule) -> GradientTransformation:
    """Multiply the updates of step `count` (0 first) by `schedule(count)`."""
    def init(params):
        return ScaleByScheduleState(step_counter())

    def update(updates, state, params=None):
        factor = schedule(state.count)
        return (tree_util.tree_map(lambda g: scale_leaf(g, factor), updates),
                ScaleByScheduleState(increment(state.count)))
    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, flip_sign: bool = True) -> GradientTransformation:
    """Scale by `-learning_rate` (a descent step); `learning_rate` is a number or a schedule."""
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: jnp.multiply(sign, learning_rate(count)))
    return scale(sign * learning_rate)


class TraceState(NamedTuple):
    trace: Any  # the momentum buffer, one leaf per parameter


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: `t = g + decay * t`; the update is `t`, or `g + decay * t` with Nesterov."""
    def init(params):
        return TraceState(zeros_like_tree(params))

    def update(updates, state, params=None):
        new_trace = tree_util.tree_map(lambda g, t: jnp.add(g, scale_leaf(t, decay)),
                                       updates, state.trace)
        if nesterov:
            updates = tree_util.tree_map(lambda g, t: jnp.add(g, scale_leaf(t, decay)),
                                         updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(new_trace)
    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    count: Any  # int32: updates made so far
    mu: Any  # first moment estimate
    nu: Any  # second moment estimate


def _moment(g, m, decay, power):
    g = g if power == 1 else jnp.square(g)
    return jnp.add(scale_leaf(g, 1 - decay), scale_leaf(m, decay))


def _debias(m, decay, count):
    # 1 - decay**count, in float32 then cast to m's dtype by scale_leaf
    return scale_leaf(m, jnp.divide(1.0, jnp.subtract(1.0, jnp.power(decay, count))))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_root: float = 0.0) -> GradientTransformation:
    """Adam's direction: bias-corrected `mu / (sqrt(nu + eps_root) + eps)`."""
    def init(params):
        return ScaleByAdamState(step_counter(), zeros_like_tree(params), zeros_like_tree(params))

    def update(updates, state, params=None):
        mu = tree_util.tree_map(lambda g, m: _moment(g, m, b1, 1), updates, state.mu)
        nu = tree_util.tree_map(lambda g, v: _moment(g, v, b2, 2), updates, state.nu)
        count = increment(state.count)

        def direction(m, v):
            m_hat, v_hat = _debias(m, b1, count), _debias(v, b2, count)
            return jnp.divide(m_hat, jnp.add(jnp.sqrt(jnp.add(v_hat, eps_root)), eps))
        return tree_util.tree_map(direction, mu, nu), ScaleByAdamState(count, mu, nu)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float = 0.0, mask=None) -> GradientTransformation:
    """`update + weight_decay * param` (decoupled weight decay, as AdamW). `mask`, a pytree of
    bools shaped like the parameters or a function `params -> that pytree`, limits the decay
    to the leaves where it is True (commonly: not the biases)."""
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights (weight decay, as in adamw) needs the "
                             "parameters: call update(grads, state, params)")
        keep = _mask_leaves(mask, params)
        leaves, treedef = tree_util.tree_flatten(updates)
        p_leaves = tree_util.flatten_up_to(treedef, params)
        out = [jnp.add(g, scale_leaf(p, weight_decay)) if k else g
               for g, p, k in zip(leaves, p_leaves, keep)]
        return treedef.unflatten(out), state
    return GradientTransformation(lambda params: EmptyState(), update)


def _mask_leaves(mask, params) -> list:
    n = len(tree_util.tree_leaves(params))
    if mask is None:
        return [True] * n
    tree = mask(params) if callable(mask) else mask
    flags = tree_util.flatten_up_to(tree_util.tree_structure(params), tree)
    for f in flags:
        if not isinstance(f, bool):
            raise TypeError(f"add_decayed_weights: mask leaves must be Python bools (True = "
                            f"decay this parameter), got {type(f).__name__}")
    return flags


def global_norm(tree):
    """The L2 norm of all leaves together: sqrt(sum of squares over every element)."""
    squares = [lax.reduce_sum(jnp.square(x)) for x in tree_util.tree_leaves(tree)]
    total = squares[0]
    for s in squares[1:]:
        total = jnp.add(total, s)
    return jnp.sqrt(total)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale the updates so their global norm is at most `max_norm` (unchanged when it is
    already smaller). The factor is min(1, max_norm / norm): no Python branch on the norm, so
    it traces under jit and pmap; a zero norm gives max_norm / 0 = inf, hence factor 1."""
    def update(updates, state, params=None):
        factor = jnp.minimum(1.0, jnp.divide(max_norm, global_norm(updates)))
        return tree_util.tree_map(lambda g: scale_leaf(g, factor), updates), state
    return GradientTransformation(lambda params: EmptyState(), update)
