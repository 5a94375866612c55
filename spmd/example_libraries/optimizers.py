"""jax.example_libraries.optimizers: optimizers as `(init_fun, update_fun, get_params)` triples.

  opt_init, opt_update, get_params = optimizers.momentum(step_size=1e-2, mass=0.9)
  opt_state = opt_init(params)
  opt_state = opt_update(step, grads, opt_state)   # in jit or pmap as well
  params = get_params(opt_state)

The update rules, state layouts and schedules are JAX 0.10.2's; an optimizer state is a pytree
(`OptimizerState`), so it passes through jit, pmap and checkpoints like any other."""
import functools
from collections import namedtuple
from typing import Any, Callable, NamedTuple

import spmd.numpy as jnp
from spmd import tree_util
from spmd.example_libraries._schedules import (constant, exponential_decay,  # noqa: F401
                                               inverse_time_decay, make_schedule,
                                               piecewise_constant, polynomial_decay)

# packed_state: per parameter leaf, the flat leaves of its state; tree_def: the parameters'
# structure; subtree_defs: per parameter leaf, its state's structure (static, in the treedef)
OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
tree_util.register_pytree_node(
    OptimizerState,
    lambda state: ((state.packed_state,), (state.tree_def, state.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]))

Array = Any
Params = Any
State = Any
Updates = Params
Step = int
InitFn = Callable[[Params], OptimizerState]
UpdateFn = Callable[[Step, Updates, OptimizerState], OptimizerState]
ParamsFn = Callable[[OptimizerState], Params]
Schedule = Callable[[Step], float]


class Optimizer(NamedTuple):
    init_fn: InitFn
    update_fn: UpdateFn
    params_fn: ParamsFn


def _flatten_each(trees):
    """(flat leaves per tree, structure per tree), as two tuples."""
    flat = [tree_util.tree_flatten(t) for t in trees]
    return tuple(leaves for leaves, _ in flat), tuple(tree for _, tree in flat)


def _unflatten_each(trees, leaves):
    return [tree_util.tree_unflatten(t, xs) for t, xs in zip(trees, leaves)]


def optimizer(opt_maker):
    """Lifts an optimizer written for one array (init, update and get_params on one parameter
    array and its state) to one for any pytree of parameters: each leaf gets its own state, and
    the whole is one OptimizerState."""
    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs):
        init, update, get_params = opt_maker(*args, **kwargs)

        @functools.wraps(init)
        def tree_init(x0_tree):
            x0_flat, tree = tree_util.tree_flatten(x0_tree)
            states_flat, subtrees = _flatten_each([init(x0) for x0 in x0_flat])
            return OptimizerState(states_flat, tree, subtrees)

        @functools.wraps(update)
        def tree_update(i, grad_tree, opt_state):
            states_flat, tree, subtrees = opt_state
            grad_flat, grad_tree_def = tree_util.tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TypeError(
                    "optimizer update function was passed a gradient tree that did not match "
                    f"the parameter tree structure with which it was initialized: parameter "
                    f"tree {tree} and grad tree {grad_tree_def}. Pass the gradient of the "
                    "parameters that get_params(opt_state) returns.")
            states = _unflatten_each(subtrees, states_flat)
            new_states = [update(i, g, s) for g, s in zip(grad_flat, states)]
            new_states_flat, new_subtrees = _flatten_each(new_states)
            for subtree, new_subtree in zip(subtrees, new_subtrees):
                if new_subtree != subtree:
                    raise TypeError(
                        "optimizer update function produced an output structure that did not "
                        f"match its input structure: input {subtree} and output {new_subtree}. "
                        "An update must return its state in the structure init gave it.")
            return OptimizerState(new_states_flat, tree, subtrees)

        @functools.wraps(get_params)
        def tree_get_params(opt_state):
            states_flat, tree, subtrees = opt_state
            states = _unflatten_each(subtrees, states_flat)
            return tree_util.tree_unflatten(tree, [get_params(s) for s in states])

        return Optimizer(tree_init, tree_update, tree_get_params)
    return tree_opt_maker


def _first(state):
    """get_params of the optimizers whose state is (x, *accumulators)."""
    return state[0]


def _init_with_zeros(count):
    """init of the optimizers whose state is x and `count` accumulators shaped as x, from 0."""
    def init(x0):
        return (x0,) + tuple(jnp.zeros_like(x0) for _ in range(count))
    return init


# ---------------------------------------------------------------------------- the optimizers
@optimizer
def sgd(step_size):
    """Stochastic gradient descent: x - step_size(i) * g."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0

    def update(i, g, x):
        return x - step_size(i) * g

    def get_params(x):
        return x
    return Optimizer(init, update, get_params)


def _momentum_update(step_size, mass, nesterov):
    def update(i, g, state):
        x, velocity = state
        velocity = mass * velocity + g
        step = mass * velocity + g if nesterov else velocity
        return x - step_size(i) * step, velocity
    return update


@optimizer
def momentum(step_size, mass):
    """SGD with momentum: v = mass * v + g; x -= step_size(i) * v."""
    step_size = make_schedule(step_size)
    return _init_with_zeros(1), _momentum_update(step_size, mass, False), _first


@optimizer
def nesterov(step_size, mass):
    """SGD with Nesterov momentum: v = mass * v + g; x -= step_size(i) * (mass * v + g)."""
    step_size = make_schedule(step_size)
    return _init_with_zeros(1), _momentum_update(step_size, mass, True), _first


@optimizer
def adagrad(step_size, momentum=0.9):
    """Adagrad (Duchi et al. 2011) with momentum on the scaled gradient."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq += jnp.square(g)
        g_sq_inv_sqrt = jnp.where(g_sq > 0, 1. / jnp.sqrt(g_sq), 0.0)
        m = (1. - momentum) * (g * g_sq_inv_sqrt) + momentum * m
        return x - step_size(i) * m, g_sq, m
    return _init_with_zeros(2), update, _first


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
    """RMSProp: a running mean of g**2 (decay gamma) scales the step."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq_grad = state
        avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1. - gamma)
        return x - step_size(i) * g / jnp.sqrt(avg_sq_grad + eps), avg_sq_grad
    return _init_with_zeros(1), update, _first


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
    """RMSProp whose scaled steps accumulate with momentum."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq_grad, mom = state
        avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1. - gamma)
        mom = momentum * mom + step_size(i) * g / jnp.sqrt(avg_sq_grad + eps)
        return x - mom, avg_sq_grad, mom
    return _init_with_zeros(2), update, _first


def _bias_correction(b, dtype, i):
    """1 - b ** (i + 1), in the state's dtype (i may be traced)."""
    return 1 - jnp.asarray(b, dtype) ** (i + 1)


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba 2015): bias-corrected first and second moment estimates."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * jnp.square(g) + b2 * v
        mhat = m / _bias_correction(b1, m.dtype, i)
        vhat = v / _bias_correction(b2, m.dtype, i)
        return x - step_size(i) * mhat / (jnp.sqrt(vhat) + eps), m, v
    return _init_with_zeros(2), update, _first


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """AdaMax: Adam with the second moment replaced by an exponentially weighted max of |g|."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = jnp.maximum(b2 * u, jnp.abs(g))
        x = x - (step_size(i) / _bias_correction(b1, m.dtype, i)) * m / (u + eps)
        return x, m, u
    return _init_with_zeros(2), update, _first


def _without(seq, i):
    """seq with its i-th entry left out, as a tuple."""
    seq = tuple(seq)
    return seq[:i] + seq[i + 1:]


def _along_axis(v, axis, ndim):
    """The 1-D accumulator v indexed to lie along `axis` of an ndim array (new axes elsewhere;
    a 0-d gradient keeps v's one axis, as JAX's indexing does)."""
    index = [None] * ndim
    index[axis:axis + 1] = [slice(None)]
    return v[tuple(index)]


@optimizer
def sm3(step_size, momentum=0.9):
    """SM3 (Anil et al. 2019): one accumulator per axis of each parameter, not per element; an
    element's accumulated g**2 is the least of its axes' accumulators plus its own g**2."""
    step_size = make_schedule(step_size)

    def init(x0):
        x_shape = x0.shape
        x0 = jnp.atleast_1d(x0)
        vs = [jnp.zeros(size, dtype=x0.dtype) for size in x0.shape]
        return x0, jnp.zeros_like(x0), vs, x_shape

    def update(i, g, state):
        x, m, vs, x_shape = state
        vs = [_along_axis(v, k, g.ndim) for k, v in enumerate(vs)]
        accum = functools.reduce(jnp.minimum, vs) + jnp.square(g)
        accum_inv_sqrt = jnp.where(accum > 0, 1. / jnp.sqrt(accum), 0)
        m = (1. - momentum) * (g * accum_inv_sqrt) + momentum * m
        x = x - step_size(i) * m
        vs = [accum.max(_without(range(x.ndim), k)) for k in range(x.ndim)]
        return x, m, vs, x_shape

    def get_params(state):
        x, _, _, x_shape = state
        return x.reshape(x_shape)
    return init, update, get_params


# ---------------------------------------------------------------------------- gradient utilities
def l2_norm(tree):
    """The l2 norm of a pytree of arrays, all leaves together (for weight decay, clipping)."""
    leaves = tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree, max_norm):
    """The gradients scaled down to l2 norm max_norm where their norm exceeds it."""
    norm = l2_norm(grad_tree)

    def normalize(g):
        return jnp.where(norm < max_norm, g, g * (max_norm / norm))
    return tree_util.tree_map(normalize, grad_tree)


# ---------------------------------------------------------------------------- serialization
class JoinPoint:
    """Marks where the parameters' pytree ends and one leaf's state pytree begins."""
    def __init__(self, subtree):
        self.subtree = subtree

    def __iter__(self):
        # pytrees are containers of arrays: a JoinPoint looks iterable as one
        yield self.subtree


def unpack_optimizer_state(opt_state):
    """The OptimizerState as the parameters' own pytree with a JoinPoint (holding that leaf's
    state pytree) at each leaf: a form that serializers of nested containers can write."""
    states_flat, tree_def, subtree_defs = opt_state
    subtrees = _unflatten_each(subtree_defs, states_flat)
    return tree_util.tree_unflatten(tree_def, [JoinPoint(s) for s in subtrees])


def pack_optimizer_state(marked_pytree):
    """The inverse of unpack_optimizer_state: the OptimizerState again."""
    sentinels, tree_def = tree_util.tree_flatten(marked_pytree)
    if not all(isinstance(s, JoinPoint) for s in sentinels):
        raise TypeError("pack_optimizer_state expects the pytree unpack_optimizer_state returns "
                        "(a JoinPoint at every leaf); got leaves of types "
                        f"{sorted({type(s).__name__ for s in sentinels})}.")
    states_flat, subtree_defs = _flatten_each([s.subtree for s in sentinels])
    return OptimizerState(states_flat, tree_def, subtree_defs)
