"""The optax contract: a `GradientTransformation` is a pair of pure functions over pytrees,
`init(params) -> state` and `update(updates, state, params=None) -> (updates, state)`.
States are pytrees of arrays (namedtuples), so both functions can be jitted, vmapped or
pmapped, and a state can be checkpointed like the parameters."""
from __future__ import annotations

from typing import Callable, NamedTuple

from spmd import numpy as jnp
from spmd.transforms import core, lax, tree_util


class GradientTransformation(NamedTuple):
    init: Callable
    update: Callable


class EmptyState(NamedTuple):
    """The state of a stateless transformation (a pytree with no leaves)."""


def identity() -> GradientTransformation:
    """Passes the updates through unchanged."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply `transforms` in order; the state is the tuple of their states."""
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"chain: argument {i} is a {type(t).__name__}, not a "
                            "GradientTransformation (an optimizer such as spmd.optim.adam(1e-3) "
                            "or a transformation such as clip_by_global_norm(1.0))")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError(f"chain of {len(transforms)} transformations got a state that is not "
                             f"a tuple of {len(transforms)} states; pass the state returned by "
                             "this chain's init (or by its previous update)")
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)
    return GradientTransformation(init, update)


def apply_updates(params, updates):
    """`params + updates` leafwise, each result keeping its parameter's dtype (so a bfloat16
    parameter stays bfloat16 when its update was computed in float32)."""
    return tree_util.tree_map(lambda p, u: cast_like(jnp.add(p, u), p), params, updates)


def cast_like(x, like):
    """`x` in the dtype of `like` (a no-op when they already agree)."""
    dtype = core.get_aval(like).dtype
    return x if core.get_aval(x).dtype == dtype else lax.convert_element_type(x, dtype)


def scale_leaf(x, factor):
    """`x * factor` in x's dtype. A Python float factor is weakly typed and needs no cast; an
    array factor (a schedule's value, a norm) is cast so it does not promote bfloat16 updates."""
    if isinstance(factor, (int, float)):
        return jnp.multiply(x, factor)
    return jnp.multiply(x, cast_like(factor, x))


def zeros_like_tree(tree):
    return tree_util.tree_map(jnp.zeros_like, tree)


def step_counter():
    """A fresh int32 step count, 0 before the first update."""
    return jnp.zeros((), jnp.int32)


def increment(count):
    # int32 as in optax: 2**31 steps are out of reach of any training run.
    return jnp.add(count, 1)
