"""spmd.optim against step-by-step NumPy reference implementations (float64), under jit, eager
and vmap (the stand-in for pmap: a replicated state updated per replica)."""
import numpy as np
import pytest

import spmd
from spmd import optim
from tests.oracles import assert_close, check_mapped
from spmd.transforms import tree_util

STEPS = 4
LR = 0.1


def _params(rng, dtype=np.float32):
    return {"w": rng.standard_normal((3, 2)).astype(dtype),
            "b": rng.standard_normal(2).astype(dtype)}


def _grads(rng, k):
    return [_params(np.random.default_rng((7, i))) for i in range(k)]


# ------------------------------------------------------------------ NumPy references
# Each reference is `step(params, grads, state, k) -> (params, state)` on float64 dicts of
# arrays; `state` starts as {} and k counts steps from 0.
def _leafwise(f, *trees):
    return {name: f(*(t[name] for t in trees)) for name in trees[0]}


def ref_sgd(lr_of_step):
    def step(p, g, s, k):
        return _leafwise(lambda p, g: p - lr_of_step(k) * g, p, g), s
    return step


def ref_momentum(beta, nesterov):
    def step(p, g, s, k):
        t = _leafwise(lambda g, t: g + beta * t, g, s.get("t", _leafwise(np.zeros_like, g)))
        u = _leafwise(lambda g, t: g + beta * t, g, t) if nesterov else t
        return _leafwise(lambda p, u: p - LR * u, p, u), {"t": t}
    return step


def ref_adam(b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decay_mask=None):
    def step(p, g, s, k):
        zeros = _leafwise(np.zeros_like, g)
        m = _leafwise(lambda g, m: b1 * m + (1 - b1) * g, g, s.get("m", zeros))
        v = _leafwise(lambda g, v: b2 * v + (1 - b2) * g * g, g, s.get("v", zeros))
        n = k + 1
        u = _leafwise(lambda m, v: (m / (1 - b1 ** n)) / (np.sqrt(v / (1 - b2 ** n)) + eps), m, v)
        decayed = {name: u[name] + (weight_decay * p[name] if decay_mask is None or
                                    decay_mask[name] else 0.0) for name in u}
        return _leafwise(lambda p, u: p - LR * u, p, decayed), {"m": m, "v": v}
    return step


def ref_clipped_sgd(max_norm):
    def step(p, g, s, k):
        norm = np.sqrt(sum(np.sum(x * x) for x in g.values()))
        factor = min(1.0, max_norm / norm)
        return _leafwise(lambda p, g: p - LR * factor * g, p, g), s
    return step


DECAY_MASK = {"w": True, "b": False}
OPTIMIZERS = [
    ("sgd", lambda: optim.sgd(LR), ref_sgd(lambda k: LR)),
    ("sgd_momentum", lambda: optim.sgd(LR, momentum=0.9), ref_momentum(0.9, False)),
    ("sgd_nesterov", lambda: optim.sgd(LR, momentum=0.9, nesterov=True), ref_momentum(0.9, True)),
    ("momentum", lambda: optim.momentum(LR, beta=0.8), ref_momentum(0.8, False)),
    ("sgd_schedule", lambda: optim.sgd(optim.exponential_decay(LR, 2, 0.5)),
     ref_sgd(lambda k: LR * 0.5 ** (k / 2))),
    ("adam", lambda: optim.adam(LR), ref_adam()),
    ("adam_b", lambda: optim.adam(LR, b1=0.5, b2=0.9, eps=1e-3), ref_adam(0.5, 0.9, 1e-3)),
    ("adamw", lambda: optim.adamw(LR, weight_decay=0.1), ref_adam(weight_decay=0.1)),
    ("adamw_mask", lambda: optim.adamw(LR, weight_decay=0.1, mask=DECAY_MASK),
     ref_adam(weight_decay=0.1, decay_mask=DECAY_MASK)),
    ("clip_sgd_active", lambda: optim.chain(optim.clip_by_global_norm(0.5), optim.sgd(LR)),
     ref_clipped_sgd(0.5)),
    ("clip_sgd_inactive", lambda: optim.chain(optim.clip_by_global_norm(100.0), optim.sgd(LR)),
     ref_clipped_sgd(100.0)),
]


def _train_step(opt):
    def step(params, grads, state):
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state
    return step


def _run_reference(ref_step, params, grads):
    p = tree_util.tree_map(lambda x: np.asarray(x, np.float64), params)
    state = {}
    for k, g in enumerate(grads):
        p, state = ref_step(p, tree_util.tree_map(lambda x: np.asarray(x, np.float64), g), state, k)
    return p


@pytest.mark.parametrize("name,make,ref_step", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_matches_numpy_reference_under_jit(name, make, ref_step):
    opt = make()
    params = _params(np.random.default_rng(0))
    grads = _grads(None, STEPS)
    step = spmd.jit(_train_step(opt))
    state = opt.init(params)
    p = params
    for g in grads:
        p, state = step(p, g, state)
    assert_close(p, tree_util.tree_map(np.float32, _run_reference(ref_step, params, grads)),
                 rtol=2e-5, atol=2e-6)


def test_eager_matches_jit():
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(LR, weight_decay=0.1))
    params = _params(np.random.default_rng(0))
    eager, jitted = _train_step(opt), spmd.jit(_train_step(opt))
    s1 = s2 = opt.init(params)
    p1 = p2 = params
    for g in _grads(None, 2):
        p1, s1 = eager(p1, g, s1)
        p2, s2 = jitted(p2, g, s2)
    assert_close(p1, p2, rtol=1e-6, atol=1e-7)
    assert_close(s1, s2, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sgd_nesterov", "adamw_mask", "clip_sgd_active",
                                  "sgd_schedule"])
def test_vmapped_update_equals_per_replica_update(name):
    """A pmap-style replicated state: vmapping the update over replicas equals the loop."""
    opt = dict((o[0], o[1]) for o in OPTIMIZERS)[name]()
    replicas = 3
    params = [_params(np.random.default_rng(r)) for r in range(replicas)]
    grads = [_grads(None, 1)[0] for _ in range(replicas)]
    grads = [tree_util.tree_map(lambda x, r=r: x * (r + 1), g) for r, g in enumerate(grads)]
    state = opt.init(params[0])
    tree = (params[0], grads[0], state)
    treedef = tree_util.tree_structure(tree)
    stacked = [np.stack([np.asarray(x)] * replicas) for x in tree_util.tree_leaves(state)]
    leaves = ([np.stack(xs) for xs in zip(*(tree_util.tree_leaves(p) for p in params))]
              + [np.stack(xs) for xs in zip(*(tree_util.tree_leaves(g) for g in grads))]
              + stacked)

    def flat_step(*xs):
        p, g, s = treedef.unflatten(xs)
        return tree_util.tree_leaves(_train_step(opt)(p, g, s))
    check_mapped(spmd.jit(spmd.vmap(flat_step)), spmd.jit(flat_step), leaves,
                 rtol=1e-6, atol=1e-7)


def test_apply_updates_keeps_parameter_dtype():
    params = {"w": np.ones(4, spmd.numpy.bfloat16), "b": np.ones(2, np.float32)}
    updates = {"w": np.full(4, 0.25, np.float32), "b": np.full(2, 0.5, np.float32)}
    out = optim.apply_updates(params, updates)
    assert np.asarray(out["w"]).dtype == spmd.numpy.bfloat16
    assert_close(out, {"w": np.full(4, 1.25, spmd.numpy.bfloat16),
                       "b": np.full(2, 1.5, np.float32)})


def test_bfloat16_parameters_stay_bfloat16_through_adam():
    params = {"w": np.linspace(-1, 1, 6).astype(spmd.numpy.bfloat16)}
    opt = optim.adam(LR)
    state = opt.init(params)
    updates, state = spmd.jit(opt.update)({"w": np.ones(6, spmd.numpy.bfloat16)}, state, params)
    new = optim.apply_updates(params, updates)
    assert np.asarray(new["w"]).dtype == spmd.numpy.bfloat16
    # first Adam step moves every coordinate by lr * sign(g) (up to eps and bf16 rounding)
    assert_close(new["w"], (np.linspace(-1, 1, 6) - LR).astype(spmd.numpy.bfloat16))


SCHEDULES = [
    (optim.constant_schedule(0.3), lambda k: 0.3),
    (optim.linear_schedule(1.0, 0.2, 4, transition_begin=1),
     lambda k: 1.0 + min(max(k - 1, 0), 4) / 4 * (0.2 - 1.0)),
    (optim.exponential_decay(1.0, 3, 0.5, staircase=True), lambda k: 0.5 ** (k // 3)),
    (optim.exponential_decay(1.0, 2, 0.5, end_value=0.3), lambda k: max(0.5 ** (k / 2), 0.3)),
    (optim.cosine_decay_schedule(2.0, 5, alpha=0.1),
     lambda k: 2.0 * ((1 - 0.1) * 0.5 * (1 + np.cos(np.pi * min(k, 5) / 5)) + 0.1)),
]


@pytest.mark.parametrize("index", range(len(SCHEDULES)))
def test_schedules_match_numpy(index):
    schedule, expected = SCHEDULES[index]
    jitted = spmd.jit(lambda k: spmd.numpy.add(schedule(k), 0.0))
    for k in (0, 1, 3, 7):
        assert_close(jitted(np.int32(k)), np.float32(expected(k)), rtol=1e-6, atol=1e-7)


def test_global_norm():
    tree = _params(np.random.default_rng(3))
    expected = np.sqrt(sum(np.sum(np.asarray(x, np.float64) ** 2) for x in tree.values()))
    assert_close(spmd.jit(optim.global_norm)(tree), np.float32(expected))


def test_clip_by_global_norm_of_zero_gradients_is_zero():
    zeros = {"w": np.zeros((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    clip = optim.clip_by_global_norm(1.0)
    out, _ = spmd.jit(clip.update)(zeros, clip.init(zeros))
    assert_close(out, zeros)


def test_errors():
    with pytest.raises(TypeError, match="argument 1 is a function, not a GradientTransformation"):
        optim.chain(optim.sgd(0.1), lambda g: g)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        optim.sgd(0.1, nesterov=True)
    opt = optim.adamw(0.1)
    params = _params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs the parameters: call update"):
        opt.update(params, opt.init(params))
    with pytest.raises(ValueError, match="got a state that is not a tuple of 3 states"):
        opt.update(params, (), params)
    bad_mask = optim.adamw(0.1, mask={"w": 1, "b": 0})
    with pytest.raises(TypeError, match="mask leaves must be Python bools"):
        bad_mask.update(params, bad_mask.init(params), params)
