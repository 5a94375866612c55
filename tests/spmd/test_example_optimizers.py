"""spmd.example_libraries.optimizers: each optimizer's updates over a few steps (jitted, the step
traced) against a NumPy transcription of its formula; schedules against their closed forms;
OptimizerState as a pytree; pack/unpack, l2_norm, clip_grads; misuses."""

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.example_libraries import optimizers
from spmd.transforms import tree_util
from tests.oracles import assert_close

RNG = np.random.default_rng(1)
PARAMS = {"w": RNG.standard_normal((2, 3)).astype(np.float32), "b": np.float32(0.5)}
GRADS = [{"w": RNG.standard_normal((2, 3)).astype(np.float32),
          "b": np.float32(RNG.standard_normal())} for _ in range(3)]
DECAY = optimizers.exponential_decay(0.1, 2, 0.5)


def lr(i):
    return 0.1 * 0.5 ** (i / 2)


# NumPy transcriptions: init(x) -> state (a dict), update(i, g, state) -> state; state["x"] is x
def _sgd():
    return lambda x: {"x": x}, lambda i, g, s: {"x": s["x"] - lr(i) * g}


def _momentum(nesterov):
    def update(i, g, s):
        v = 0.9 * s["v"] + g
        return {"x": s["x"] - lr(i) * ((0.9 * v + g) if nesterov else v), "v": v}
    return lambda x: {"x": x, "v": 0 * x}, update


def _adagrad():
    def update(i, g, s):
        g_sq = s["g_sq"] + g ** 2
        scaled = g * np.where(g_sq > 0, 1 / np.sqrt(g_sq), 0)
        m = 0.1 * scaled + 0.9 * s["m"]
        return {"x": s["x"] - lr(i) * m, "g_sq": g_sq, "m": m}
    return lambda x: {"x": x, "g_sq": 0 * x, "m": 0 * x}, update


def _rmsprop(with_momentum):
    def update(i, g, s):
        avg = 0.9 * s["avg"] + 0.1 * g ** 2
        step = lr(i) * g / np.sqrt(avg + 1e-8)
        if with_momentum:
            step = 0.9 * s["mom"] + step
        return {"x": s["x"] - step, "avg": avg, "mom": step}
    return lambda x: {"x": x, "avg": 0 * x, "mom": 0 * x}, update


def _adam(maximum):
    def update(i, g, s):
        m = 0.1 * g + 0.9 * s["m"]
        if maximum:
            u = np.maximum(0.999 * s["u"], np.abs(g))
            return {"x": s["x"] - lr(i) / (1 - 0.9 ** (i + 1)) * m / (u + 1e-8), "m": m, "u": u}
        u = 0.001 * g ** 2 + 0.999 * s["u"]
        mhat, vhat = m / (1 - 0.9 ** (i + 1)), u / (1 - 0.999 ** (i + 1))
        return {"x": s["x"] - lr(i) * mhat / (np.sqrt(vhat) + 1e-8), "m": m, "u": u}
    return lambda x: {"x": x, "m": 0 * x, "u": 0 * x}, update


def _sm3():
    """One accumulator per axis; an element's accumulated g**2 starts from the least of its
    axes' accumulators (a scalar is one element of one axis)."""
    def init(x):
        x = np.atleast_1d(x)
        return {"x": x, "m": 0 * x, "vs": [np.zeros(n) for n in x.shape]}

    def update(i, g, s):
        g = np.atleast_1d(g)
        accum = g ** 2 + (np.minimum.outer(*s["vs"]) if g.ndim == 2 else s["vs"][0])
        m = 0.1 * g * np.where(accum > 0, 1 / np.sqrt(accum), 0) + 0.9 * s["m"]
        vs = [accum.max(1), accum.max(0)] if g.ndim == 2 else [accum]
        return {"x": s["x"] - lr(i) * m, "m": m, "vs": vs}
    return init, update


OPTIMIZERS = {
    "sgd": (optimizers.sgd(DECAY), _sgd()),
    "momentum": (optimizers.momentum(DECAY, mass=0.9), _momentum(False)),
    "nesterov": (optimizers.nesterov(DECAY, 0.9), _momentum(True)),
    "adagrad": (optimizers.adagrad(DECAY), _adagrad()),
    "rmsprop": (optimizers.rmsprop(DECAY), _rmsprop(False)),
    "rmsprop_momentum": (optimizers.rmsprop_momentum(DECAY), _rmsprop(True)),
    "adam": (optimizers.adam(DECAY), _adam(False)),
    "adamax": (optimizers.adamax(DECAY), _adam(True)),
    "sm3": (optimizers.sm3(DECAY), _sm3()),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_updates_match_numpy_transcription(name):
    (opt_init, opt_update, get_params), (np_init, np_update) = OPTIMIZERS[name]
    state = opt_init(PARAMS)
    assert isinstance(state, optimizers.OptimizerState)
    update = spmd.jit(opt_update)  # the step index traced, as in JAX's examples
    np_states = {k: np_init(np.float64(v)) for k, v in PARAMS.items()}
    for i, grads in enumerate(GRADS):
        state = update(i, grads, state)
        np_states = {k: np_update(i, np.float64(grads[k]), s) for k, s in np_states.items()}
        params = get_params(state)
        for k, s in np_states.items():
            expected = np.reshape(s["x"], np.shape(PARAMS[k])).astype(np.float32)
            assert_close(params[k], expected, rtol=2e-5, atol=2e-6)


def test_eager_update_equals_jitted_update():
    opt_init, opt_update, get_params = optimizers.adam(1e-2)
    eager, jitted = opt_init(PARAMS), opt_init(PARAMS)
    for i, grads in enumerate(GRADS):
        eager = opt_update(i, grads, eager)
        jitted = spmd.jit(opt_update)(i, grads, jitted)
    assert_close(get_params(eager), get_params(jitted), rtol=1e-6, atol=1e-7)


def test_optimizer_is_a_named_triple_and_state_a_pytree():
    opt = optimizers.momentum(0.1, 0.9)
    assert isinstance(opt, optimizers.Optimizer) and opt.init_fn is opt[0]
    state = opt.init_fn(PARAMS)
    leaves, tree = tree_util.tree_flatten(state)
    assert len(leaves) == 4  # (x, velocity) for each of the two parameters
    rebuilt = tree_util.tree_unflatten(tree, [2 * np.asarray(v) for v in leaves])
    assert isinstance(rebuilt, optimizers.OptimizerState)
    assert_close(opt.params_fn(rebuilt), tree_util.tree_map(lambda p: 2 * p, PARAMS))


def test_pack_and_unpack_round_trip_through_join_points():
    opt_init, opt_update, get_params = optimizers.adam(0.1)
    state = opt_update(0, GRADS[0], opt_init(PARAMS))
    marked = optimizers.unpack_optimizer_state(state)
    assert set(marked) == {"w", "b"} and isinstance(marked["w"], optimizers.JoinPoint)
    x, m, v = marked["w"].subtree
    assert_close(x, np.asarray(get_params(state)["w"]))
    packed = optimizers.pack_optimizer_state(marked)
    assert tree_util.tree_structure(packed) == tree_util.tree_structure(state)
    assert_close(tree_util.tree_leaves(packed), tree_util.tree_leaves(state))
    with pytest.raises(TypeError, match="a JoinPoint at every leaf"):
        optimizers.pack_optimizer_state({"w": np.ones(2)})


def test_l2_norm_and_clip_grads_against_numpy():
    flat = np.concatenate([GRADS[0]["w"].ravel(), [GRADS[0]["b"]]])
    norm = np.linalg.norm(flat)
    assert_close(optimizers.l2_norm(GRADS[0]), np.float32(norm))
    clipped = optimizers.clip_grads(GRADS[0], norm / 2)
    assert_close(clipped, tree_util.tree_map(lambda g: g / 2, GRADS[0]), rtol=1e-6, atol=1e-6)
    assert_close(optimizers.clip_grads(GRADS[0], norm * 2), GRADS[0])


# ---------------------------------------------------------------------------- schedules
STEPS = np.arange(7)
SCHEDULES = {
    "constant": (optimizers.constant(0.3), lambda i: 0.3 + 0 * i),
    "exponential_decay": (optimizers.exponential_decay(0.5, 3, 0.1),
                          lambda i: 0.5 * 0.1 ** (i / 3)),
    "inverse_time_decay": (optimizers.inverse_time_decay(0.5, 2, 3.0),
                           lambda i: 0.5 / (1 + 3.0 * i / 2)),
    "inverse_time_decay staircase": (optimizers.inverse_time_decay(0.5, 2, 3.0, True),
                                     lambda i: 0.5 / (1 + 3.0 * (i // 2))),
    "polynomial_decay": (optimizers.polynomial_decay(1.0, 4, 0.2, power=2.0),
                         lambda i: (1 - np.minimum(i, 4) / 4) ** 2 * 0.8 + 0.2),
    "piecewise_constant": (optimizers.piecewise_constant([1, 4], [1.0, 0.5, 0.1]),
                           lambda i: np.select([i <= 1, i <= 4], [1.0, 0.5], 0.1)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_its_closed_form_eager_and_traced(name):
    schedule, formula = SCHEDULES[name]
    expected = formula(STEPS.astype(np.float64)).astype(np.float32)
    eager = [np.float32(schedule(int(i))) for i in STEPS]
    traced = spmd.jit(spmd.vmap(schedule))(jnp.asarray(STEPS, np.int32))
    np.testing.assert_allclose(eager, expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(traced), expected, rtol=1e-6)


def test_make_schedule_takes_a_scalar_or_a_function():
    assert optimizers.make_schedule(0.25)(17) == 0.25
    assert optimizers.make_schedule(DECAY) is DECAY
    with pytest.raises(TypeError, match="a scalar or a schedule.*shape \\(2,\\)"):
        optimizers.make_schedule(np.ones(2))


@pytest.mark.parametrize("boundaries, values, match", [
    ([[1, 2]], [[1.0, 2.0, 3.0]], "must be sequences"),
    ([1, 2], [1.0, 2.0], "one shorter than values length, got 2 boundaries and 2 values"),
])
def test_piecewise_constant_rejects_mismatched_lengths(boundaries, values, match):
    with pytest.raises(ValueError, match=match):
        optimizers.piecewise_constant(boundaries, values)


# ---------------------------------------------------------------------------- misuses
def test_update_with_a_gradient_of_another_structure_is_a_type_error():
    opt_init, opt_update, _ = optimizers.sgd(0.1)
    with pytest.raises(TypeError, match="gradient tree that did not match the parameter tree"):
        opt_update(0, {"w": GRADS[0]["w"]}, opt_init(PARAMS))


def test_an_update_that_changes_the_state_structure_is_a_type_error():
    @optimizers.optimizer
    def broken(step_size):
        return (lambda x: (x, x), lambda i, g, state: (state[0], state[1], g),
                lambda state: state[0])
    opt_init, opt_update, _ = broken(0.1)
    with pytest.raises(TypeError, match="produced an output structure that did not match"):
        opt_update(0, PARAMS, opt_init(PARAMS))
    assert broken.__name__ == "broken"
