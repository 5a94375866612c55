"""checkpoint (remat): the same derivatives as without it, under every transform, and the
observable difference: the backward pass recomputes the forward operations (visible in the
program), except what the policy saves."""
import functools
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close, check_grads

RNG = np.random.default_rng(1)
X = RNG.uniform(-1, 1, 3).astype(np.float32)
XS = RNG.uniform(-1, 1, (2, 3)).astype(np.float32)
W = RNG.uniform(-1, 1, (3, 3)).astype(np.float32)
PARAMS = {"w": W, "b": X}


def sin_chain(x):
    return jnp.sum(jnp.sin(jnp.sin(x)) * x)


def layer(params, x):
    return jnp.sum(jnp.tanh(jnp.sin(x) @ params["w"] + params["b"]) ** 2)


def repeated(x, n):  # n is a Python int: Python control flow needs it static
    for _ in range(n):
        x = jnp.sin(x) * 1.5
    return jnp.sum(x * x) if n > 1 else jnp.sum(x)


policies = spmd.checkpoint_policies
CASES = [  # (name, plain f, checkpointed f, args, argnums)
    ("sin_chain", sin_chain, spmd.checkpoint(sin_chain), (X,), 0),
    ("layer_params", layer, spmd.checkpoint(layer), (PARAMS, X), 0),
    ("layer_input", layer, spmd.remat(layer), (PARAMS, X), 1),
    ("static_argnums", lambda x: repeated(x, 3),
     lambda x: spmd.checkpoint(repeated, static_argnums=(1,))(x, 3), (X,), 0),
    ("everything_saveable", layer,
     spmd.checkpoint(layer, policy=policies.everything_saveable), (PARAMS, X), 0),
    ("dots_saveable", layer, spmd.checkpoint(layer, policy=policies.dots_saveable), (PARAMS, X), 0),
    ("no_prevent_cse", layer, spmd.checkpoint(layer, prevent_cse=False), (PARAMS, X), 0),
    ("nested", lambda x: sin_chain(jnp.cos(x)),
     spmd.checkpoint(lambda x: spmd.checkpoint(sin_chain)(jnp.cos(x))), (X,), 0),
]
TRANSFORMS = [
    ("grad", lambda f, n: spmd.grad(f, argnums=n)),
    ("jit_of_grad", lambda f, n: spmd.jit(spmd.grad(f, argnums=n))),
    ("grad_of_jit", lambda f, n: spmd.grad(spmd.jit(f), argnums=n)),
    ("value_and_grad", lambda f, n: spmd.value_and_grad(f, argnums=n)),
    ("jvp", lambda f, n: lambda *a: spmd.jvp(lambda x: f(*a[:n], x, *a[n + 1:]), (a[n],),
                                             (a[n],))),
]


@pytest.mark.parametrize("tname,transform", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
@pytest.mark.parametrize("name,plain,remat,args,argnums", CASES, ids=[c[0] for c in CASES])
def test_checkpoint_gives_the_same_derivatives(name, plain, remat, args, argnums, tname,
                                               transform):
    assert_close(transform(remat, argnums)(*args), transform(plain, argnums)(*args),
                 rtol=1e-5, atol=1e-6)


def test_checkpoint_under_vmap_and_second_order():
    remat = spmd.checkpoint(sin_chain)
    assert_close(spmd.vmap(spmd.grad(remat))(XS), spmd.vmap(spmd.grad(sin_chain))(XS))
    assert_close(spmd.grad(lambda x: jnp.sum(spmd.vmap(remat)(x)))(XS),
                 spmd.grad(lambda x: jnp.sum(spmd.vmap(sin_chain)(x)))(XS))
    second = lambda f: spmd.grad(lambda x: jnp.sum(spmd.grad(f)(x) ** 2))
    assert_close(second(remat)(X), second(sin_chain)(X), rtol=1e-5)


def test_checkpoint_matches_finite_differences(x64):
    check_grads(spmd.checkpoint(layer), ({"w": W.astype(np.float64), "b": X.astype(
        np.float64)}, X.astype(np.float64)), order=2)


def count_ops(f, args, op):
    """How many equations of `op` the program of value_and_grad(f) holds (nested ones too)."""
    return len(re.findall(rf"= {op}[\[ ]", str(spmd.make_jaxpr(spmd.value_and_grad(f))(*args))))


def test_backward_pass_recomputes_the_forward_operations():
    # plain: sin twice (forward), the backward pass reads the saved cos/sin residuals;
    # checkpointed: the forward's sins again in the backward pass, behind a barrier
    assert count_ops(sin_chain, (X,), "sin") == 2
    assert count_ops(spmd.checkpoint(sin_chain), (X,), "sin") == 4
    program = str(spmd.make_jaxpr(spmd.grad(spmd.checkpoint(sin_chain)))(X))
    assert "optimization_barrier" in program
    no_barrier = spmd.checkpoint(sin_chain, prevent_cse=False)
    assert "optimization_barrier" not in str(spmd.make_jaxpr(spmd.grad(no_barrier))(X))


def test_policies_choose_what_is_recomputed():
    args = (PARAMS, X)
    plain_dots = count_ops(layer, args, "dot_general")
    assert count_ops(spmd.checkpoint(layer), args, "dot_general") == plain_dots + 1
    assert count_ops(spmd.checkpoint(layer, policy=policies.dots_saveable), args,
                     "dot_general") == plain_dots
    everything = spmd.checkpoint(layer, policy=policies.everything_saveable)
    for op in ("sin", "tanh", "dot_general"):
        assert count_ops(everything, args, op) == count_ops(layer, args, op)


def test_checkpoint_lowers_to_one_program_with_a_barrier():
    text = spmd.jit(spmd.grad(spmd.checkpoint(sin_chain))).lower(X).as_text()
    assert text.count("func.func") == 1 and "stablehlo.optimization_barrier" in text


def test_checkpoint_decorator_forms():
    @spmd.checkpoint
    def f(x):
        return sin_chain(x)

    @functools.partial(spmd.checkpoint, policy=policies.nothing_saveable)
    def g(x):
        return sin_chain(x)
    expected = spmd.grad(sin_chain)(X)
    assert_close(spmd.grad(f)(X), expected)
    assert_close(spmd.grad(g)(X), expected)
    assert_close(f(X), sin_chain(X))   # eager call: just the function


def test_checkpoint_errors():
    with pytest.raises(TypeError, match="checkpoint policy must be a callable"):
        spmd.checkpoint(sin_chain, policy="dots")
    with pytest.raises(TypeError, match="converting a traced value to a Python bool"):
        spmd.grad(spmd.checkpoint(lambda x: x if x > 0 else -x))(np.float32(1))


def test_checkpointed_scan_body_gives_the_loop_gradient():
    # the usual use: remat each step of a scan, so the backward pass stores only the carries
    def step(c, x):
        return jnp.sin(c * x) + c, jnp.cos(c) * x

    def unrolled(xs):
        c, ys = np.float32(1.0), []
        for i in range(xs.shape[0]):
            c, y = step(c, xs[i])
            ys.append(y)
        return jnp.sum(jnp.stack(ys)) + c

    def scanned(xs):
        c, ys = spmd.lax.scan(spmd.checkpoint(step), np.float32(1.0), xs)
        return jnp.sum(ys) + c
    expected = spmd.grad(unrolled)(X)
    assert_close(spmd.grad(scanned)(X), expected, rtol=1e-5)
    assert_close(spmd.jit(spmd.grad(scanned))(X), expected, rtol=1e-5)
