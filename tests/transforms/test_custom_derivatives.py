"""custom_jvp and custom_vjp: the user's rule is what every transform uses (eager, jit of grad,
grad of jit, vmap, jacobians, linearize), numerically stable rules fix what autodiff gets wrong,
and misuse gets JAX's errors."""
import functools

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close, numerical_jvp
from spmd.transforms import dtypes

X = np.array([-3.0, 0.5, 100.0], np.float32)   # 100: exp overflows float32


# ---------------------------------------------------------------- custom_jvp
@spmd.custom_jvp
def log1pexp(x):
    return jnp.log(1.0 + jnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def sum_log1pexp(x):
    return jnp.sum(log1pexp(x))


def linearized(f):
    def g(x):
        return spmd.linearize(f, x)[1](np.ones_like(x))
    return g


JVP_MODES = [  # (name, the derivative of log1pexp at each element of X)
    ("grad", spmd.grad(sum_log1pexp)),
    ("jit_of_grad", spmd.jit(spmd.grad(sum_log1pexp))),
    ("grad_of_jit", spmd.grad(spmd.jit(sum_log1pexp))),
    ("vmap_of_grad", spmd.vmap(spmd.grad(log1pexp))),
    ("grad_of_vmap", spmd.grad(lambda x: jnp.sum(spmd.vmap(log1pexp)(x)))),
    ("jit_vmap_grad", spmd.jit(spmd.vmap(spmd.grad(log1pexp)))),
    ("jvp", lambda x: spmd.jvp(log1pexp, (x,), (jnp.ones_like(x),))[1]),
    ("jit_of_jvp", spmd.jit(lambda x: spmd.jvp(log1pexp, (x,), (jnp.ones_like(x),))[1])),
    ("linearize", linearized(log1pexp)),
    ("jacfwd", lambda x: jnp.diagonal(spmd.jacfwd(log1pexp)(x))),
    ("jacrev", lambda x: jnp.diagonal(spmd.jacrev(log1pexp)(x))),
]


@pytest.mark.parametrize("name,derivative", JVP_MODES, ids=[m[0] for m in JVP_MODES])
def test_custom_jvp_rule_is_used_by_every_transform(name, derivative):
    assert_close(derivative(X), sigmoid(X).astype(np.float32))


def test_custom_jvp_fixes_the_gradient_autodiff_gets_wrong():
    naive = lambda x: jnp.log(1.0 + jnp.exp(x))
    assert np.isnan(np.asarray(spmd.grad(naive)(np.float32(100.0))))
    assert_close(spmd.grad(log1pexp)(np.float32(100.0)), np.float32(1.0))


def test_custom_jvp_second_order_differentiates_the_rule():
    # d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x)), computed through the rule's own ops
    xs = X[:2]
    s = sigmoid(xs)
    assert_close(spmd.vmap(spmd.grad(spmd.grad(log1pexp)))(xs), (s * (1 - s)).astype(np.float32))


@spmd.custom_jvp
def doubled_derivative(x):
    return jnp.sin(x)


doubled_derivative.defjvps(lambda t, out, x: 2.0 * jnp.cos(x) * t)


def sum_doubled(x):
    return jnp.sum(doubled_derivative(x))


DEFJVPS_MODES = [
    ("grad", spmd.grad(sum_doubled)),
    ("jit_of_grad", spmd.jit(spmd.grad(sum_doubled))),
    ("grad_of_jit", spmd.grad(spmd.jit(sum_doubled))),
    ("vmap_of_grad", spmd.vmap(spmd.grad(doubled_derivative))),
]


@pytest.mark.parametrize("name,derivative", DEFJVPS_MODES, ids=[m[0] for m in DEFJVPS_MODES])
def test_defjvps_rule_survives_staging(name, derivative):
    # the rule deliberately disagrees with autodiff (factor 2), so only the rule explains it
    assert_close(derivative(X[:2]), (2 * np.cos(X[:2])).astype(np.float32))


@spmd.custom_jvp
def scaled_product(x, y):
    return x * y


scaled_product.defjvps(lambda tx, out, x, y: tx * y * 3.0, None)   # no tangent through y


def test_defjvps_with_none_and_two_args():
    gx, gy = spmd.grad(lambda x, y: jnp.sum(scaled_product(x, y)), argnums=(0, 1))(X, X + 1)
    assert_close((gx, gy), ((X + 1) * 3.0, np.zeros(3, np.float32)))


@functools.partial(spmd.custom_jvp, nondiff_argnums=(0,))
def apply_fn(fn, x):
    return fn(x)


@apply_fn.defjvp
def _apply_fn_jvp(fn, primals, tangents):
    (x,), (t,) = primals, tangents
    return apply_fn(fn, x), 10.0 * t   # a recognisable rule: slope 10 for any fn


def test_custom_jvp_nondiff_argnums_passes_functions_to_the_rule():
    assert_close(spmd.grad(lambda x: jnp.sum(apply_fn(jnp.tanh, x)))(X), np.full(3, 10, np.float32))
    assert_close(spmd.jit(spmd.grad(lambda x: apply_fn(jnp.sin, x)))(np.float32(1)), np.float32(10))


@spmd.custom_jvp
def relu_with_python_branch(x):
    return x if float(x) > 0 else 0.0 * x   # Python control flow on a concrete value


relu_with_python_branch.defjvps(lambda t, out, x: t * (out > 0))


def test_custom_jvp_runs_python_control_flow_eagerly_under_grad():
    assert_close(spmd.grad(relu_with_python_branch)(np.float32(2.0)), np.float32(1.0))
    assert_close(spmd.grad(relu_with_python_branch)(np.float32(-2.0)), np.float32(0.0))


def test_custom_jvp_pytree_inputs_and_outputs():
    @spmd.custom_jvp
    def f(p):
        return {"s": jnp.sum(p["a"] * p["b"]), "a": p["a"]}

    @f.defjvp
    def f_jvp(primals, tangents):
        (p,), (t,) = primals, tangents
        return f(p), {"s": jnp.sum(t["a"] * p["b"] + p["a"] * t["b"]), "a": t["a"]}
    p = {"a": X[:2], "b": X[:2] + 1}
    g = spmd.grad(lambda p: f(p)["s"] + jnp.sum(f(p)["a"]))(p)
    assert_close(g, {"a": X[:2] + 2, "b": X[:2]})


def test_custom_jvp_errors():
    @spmd.custom_jvp
    def f(x):
        return jnp.sin(x)
    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function f using "
                                             "defjvp"):
        f(1.0)
    f.defjvp(lambda primals, tangents: (f(*primals), (tangents[0], tangents[0])))
    with pytest.raises(TypeError, match="must produce primal and tangent outputs with equal "
                                        "container"):
        spmd.jvp(f, (X,), (X,))
    f.defjvp(lambda primals, tangents: (f(*primals), tangents[0][:2]))
    with pytest.raises(TypeError, match=r"must produce primal and tangent outputs with equal "
                                        r"shapes and dtypes, but got f32\[3\] and f32\[2\]"):
        spmd.jvp(f, (X,), (X,))
    f.defjvp(lambda primals, tangents: primals)
    with pytest.raises(TypeError, match="must produce a pair"):
        spmd.jvp(f, (X,), (X,))
    with pytest.raises(TypeError, match="Can't use ``defjvps`` with ``nondiff_argnums``"):
        apply_fn.defjvps(None, None)


def test_custom_jvp_differentiating_a_closed_over_value_is_an_error():
    def outer(c):
        @spmd.custom_jvp
        def f(x):
            return x * c

        f.defjvps(lambda t, out, x: t * c)
        return jnp.sum(f(X))
    message = ("Detected differentiation of a custom_jvp function with respect to a "
               "closed-over value")
    with pytest.raises(TypeError, match=message):
        spmd.grad(outer)(np.float32(2.0))
    with pytest.raises(TypeError, match=message):
        spmd.jit(spmd.grad(outer))(np.float32(2.0))


# ---------------------------------------------------------------- custom_vjp
@functools.partial(spmd.custom_vjp, nondiff_argnums=(0, 1))
def clip_gradient(lo, hi, x):
    return x   # the identity forward; the backward pass clips the cotangent


def _clip_fwd(lo, hi, x):
    return x, None


def _clip_bwd(lo, hi, _, g):
    return (jnp.clip(g, lo, hi),)


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


def clipped_loss(x):
    return jnp.sum(3.0 * clip_gradient(-1.0, 1.0, x) * x)   # unclipped grad: 3 x + 3 x


VJP_MODES = [
    ("grad", spmd.grad(clipped_loss)),
    ("jit_of_grad", spmd.jit(spmd.grad(clipped_loss))),
    ("grad_of_jit", spmd.grad(spmd.jit(clipped_loss))),
    ("vmap_of_grad", lambda x: spmd.vmap(spmd.grad(clipped_loss))(x[:, None])[:, 0]),
    ("grad_of_vmap", spmd.grad(lambda x: jnp.sum(spmd.vmap(clipped_loss)(x[:, None])))),
    ("vjp", lambda x: spmd.vjp(clipped_loss, x)[1](np.float32(1))[0]),
    ("jacrev", spmd.jacrev(clipped_loss)),
]


@pytest.mark.parametrize("name,derivative", VJP_MODES, ids=[m[0] for m in VJP_MODES])
def test_custom_vjp_gradient_clipping_under_every_reverse_transform(name, derivative):
    x = np.array([-2.0, 0.1, 0.25, 3.0], np.float32)
    # the cotangent reaching clip_gradient is 3 x, clipped to [-1, 1]; plus the direct 3 clip(x)
    expected = np.clip(3 * x, -1, 1) + 3 * x
    assert_close(derivative(x), expected.astype(np.float32))


@spmd.custom_vjp
def sin_times(x, y):
    return jnp.sin(x) * y


def _sin_times_fwd(x, y):
    return sin_times(x, y), (jnp.cos(x), jnp.sin(x), y)


def _sin_times_bwd(res, g):
    cos_x, sin_x, y = res
    return cos_x * g * y, sin_x * g


sin_times.defvjp(_sin_times_fwd, _sin_times_bwd)


def test_custom_vjp_matches_finite_differences(x64):
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -2.0])
    u, v = np.array([1.0, -2.0, 0.5]), (np.array([0.1, 0.2, -0.3]), np.array([1.0, 0.0, 2.0]))
    out, pullback = spmd.vjp(sin_times, x, y)
    gx, gy = pullback(u)
    # <u, J v> by finite differences equals <J^T u, v> from the rule
    jv = np.asarray(numerical_jvp(sin_times, (x, y), v))
    assert np.isclose(np.dot(u, jv), np.dot(gx, v[0]) + np.dot(gy, v[1]), rtol=1e-8)
    assert_close(out, np.sin(x) * y)


@pytest.mark.parametrize("x_axis", [0, 1])
def test_custom_vjp_under_vmap_sums_cotangents_of_unmapped_arguments(x_axis):
    xs = np.stack([X, X * 0.5], axis=x_axis)           # two examples of x; y shared by both
    y = np.array([1.5, -0.5, 2.0], np.float32)
    batched = lambda x, y: jnp.sum(spmd.vmap(sin_times, in_axes=(x_axis, None))(x, y))
    gx, gy = spmd.grad(batched, argnums=(0, 1))(xs, y)
    assert_close(gx, np.cos(xs) * np.expand_dims(y, x_axis), rtol=1e-6)
    assert_close(gy, np.sum(np.sin(xs), axis=x_axis), rtol=1e-6)


def test_custom_vjp_none_cotangent_and_integer_argument():
    @spmd.custom_vjp
    def f(x, n, w):
        return x * n * w

    f.defvjp(lambda x, n, w: (f(x, n, w), (n, w)),
             lambda res, g: (g * res[0] * res[1], None, None))   # w deliberately gets none
    gx, gn, gw = spmd.grad(lambda x, n, w: jnp.sum(f(x, n, w)), argnums=(0, 1, 2),
                           allow_int=True)(X, np.int32(3), np.float32(2))
    assert_close(gx, np.full(3, 6.0, np.float32))
    assert gn.dtype == dtypes.float0
    assert_close(gw, np.float32(0.0))


def test_custom_vjp_pytrees_and_second_order():
    @spmd.custom_vjp
    def f(p):
        return {"y": jnp.sin(p["a"]) * p["b"]}

    def fwd(p):
        return f(p), p

    def bwd(p, ct):
        return ({"a": jnp.cos(p["a"]) * p["b"] * ct["y"], "b": jnp.sin(p["a"]) * ct["y"]},)
    f.defvjp(fwd, bwd)
    a, b = X[:2], X[:2] + 1
    g = spmd.grad(lambda p: jnp.sum(f(p)["y"]))({"a": a, "b": b})
    assert_close(g, {"a": np.cos(a) * b, "b": np.sin(a)})
    # reverse over reverse differentiates bwd's own operations
    h = spmd.grad(lambda a: jnp.sum(spmd.grad(lambda a: jnp.sum(f({"a": a, "b": b})["y"]))(a)))(a)
    assert_close(h, (-np.sin(a) * b).astype(np.float32))


def test_custom_vjp_forward_mode_is_an_error():
    message = r"can't apply forward-mode autodiff \(jvp\) to a custom_vjp function"
    with pytest.raises(TypeError, match=message):
        spmd.jvp(clipped_loss, (X,), (X,))
    with pytest.raises(TypeError, match=message):
        spmd.jit(lambda x: spmd.jvp(clipped_loss, (x,), (x,)))(X)
    with pytest.raises(TypeError, match=message):
        spmd.jacfwd(clipped_loss)(X)


def test_custom_vjp_rule_errors():
    @spmd.custom_vjp
    def f(x, y):
        return x * y
    with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function f using "
                                             "defvjp"):
        f(X, X)
    f.defvjp(lambda x, y: f(x, y), lambda res, g: (g, g))
    with pytest.raises(TypeError, match="Custom VJP fwd rule <lambda> for function f must "
                                        "produce a pair"):
        spmd.grad(lambda x: jnp.sum(f(x, x)))(X)
    f.defvjp(lambda x, y: (f(x, y), None), lambda res, g: (g,))
    with pytest.raises(TypeError, match="must produce a tuple with one cotangent per argument"):
        spmd.grad(lambda x: jnp.sum(f(x, x)))(X)
    f.defvjp(lambda x, y: (f(x, y), None), lambda res, g: (g, g[:2]))
    with pytest.raises(TypeError, match=r"produced f32\[2\] for an input of f32\[3\]"):
        spmd.grad(lambda x: jnp.sum(f(x, x)))(X)


def test_custom_vjp_traced_nondiff_argument_is_an_error():
    with pytest.raises(TypeError, match="Traced values cannot be passed as non-differentiable "
                                        "arguments to custom_vjp functions"):
        spmd.jit(lambda lo, x: clip_gradient(lo, 1.0, x))(np.float32(-1), X)
