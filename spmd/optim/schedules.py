"""Learning-rate schedules: functions `step -> learning rate`, written with array operations so
they run inside a jitted or pmapped update where `step` is a traced int32 count."""
from __future__ import annotations

from spmd import numpy as jnp


def constant_schedule(value):
    return lambda count: value


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0):
    """From `init_value` to `end_value` over `transition_steps` steps starting at
    `transition_begin`; constant before and after."""
    if transition_steps <= 0:
        return constant_schedule(init_value)

    def schedule(count):
        done = jnp.minimum(jnp.maximum(jnp.subtract(count, transition_begin), 0), transition_steps)
        frac = jnp.divide(done, transition_steps)
        return jnp.add(init_value, jnp.multiply(frac, end_value - init_value))
    return schedule


def exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0,
                      staircase=False, end_value=None):
    """`init_value * decay_rate ** ((step - transition_begin) / transition_steps)`, the exponent
    floored when `staircase`, the value bounded by `end_value` when given (as optax)."""
    if transition_steps <= 0:
        raise ValueError(f"exponential_decay: transition_steps must be positive, got "
                         f"{transition_steps}")

    def schedule(count):
        steps = jnp.maximum(jnp.subtract(count, transition_begin), 0)
        exponent = jnp.divide(steps, transition_steps)
        if staircase:
            exponent = jnp.floor(exponent)
        value = jnp.multiply(init_value, jnp.power(decay_rate, exponent))
        if end_value is not None:
            bound = jnp.maximum if decay_rate < 1 else jnp.minimum
            value = bound(value, end_value)
        return value
    return schedule


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0):
    """Half a cosine from `init_value` down to `alpha * init_value` over `decay_steps` steps."""
    if decay_steps <= 0:
        raise ValueError(f"cosine_decay_schedule: decay_steps must be positive, got {decay_steps}")

    def schedule(count):
        frac = jnp.divide(jnp.minimum(count, decay_steps), decay_steps)
        cosine = jnp.multiply(0.5, jnp.add(1.0, jnp.cos(jnp.multiply(jnp.pi, frac))))
        return jnp.multiply(init_value, jnp.add(jnp.multiply(1 - alpha, cosine), alpha))
    return schedule
