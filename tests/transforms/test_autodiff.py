"""The autodiff API (issue 3): derivatives of Python programs (loops, ifs, recursion, closures,
pytrees) against finite differences, higher order, Jacobians and Hessians, integer and boolean
values (float0), stop_gradient, jit/grad composition, and the error texts.
Custom rules are in test_custom_derivatives.py, checkpoint in test_remat.py."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close, check_grads, numerical_jvp
from spmd.transforms import dtypes


pytestmark = pytest.mark.usefixtures("x64")  # (tests/conftest.py)


RNG = np.random.default_rng(0)
V3 = RNG.uniform(0.5, 1.5, 3)             # float64 vectors and matrices reused across tests
V3B = RNG.uniform(-1.0, 1.0, 3)
M23 = RNG.uniform(-1.0, 1.0, (2, 3))


# ---------------------------------------------------------------- Python programs
def loop(x):
    for _ in range(3):
        x = jnp.sin(x) * x + 0.5
    return jnp.sum(x)


def branch_on_value(x):
    # a Python `if` on a concrete value: eager grad sees the primal, as in JAX
    return jnp.sum(x ** 3) if float(jnp.sum(x)) > 0 else jnp.sum(jnp.cos(x))


def power(x, n):
    return jnp.ones_like(x) if n == 0 else x * power(x, n - 1)


def recursion(x):
    return jnp.sum(power(x, 4))


def make_closure(c):
    return lambda x: jnp.sum(jnp.tanh(c * x) * c)


def while_doubling(x):
    while float(jnp.sum(x)) < 10.0:  # trip count fixed by the concrete value
        x = x * 2.0
    return jnp.sum(jnp.log(x))


def mlp(params, x):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.sum((h @ params["w2"]) ** 2)


def softmax_xent(logits, labels):
    logp = logits - jnp.log(jnp.sum(jnp.exp(logits), axis=-1, keepdims=True))
    return -jnp.mean(jnp.sum(logp * labels, axis=-1))


def pytree_args(p, scale):
    a, (b, c) = p["a"], p["bc"]
    return jnp.sum(a * b) + scale * jnp.sum(jnp.exp(c))


PARAMS = {"w1": RNG.normal(size=(3, 4)), "b1": RNG.normal(size=4), "w2": RNG.normal(size=(4, 2))}
PROGRAMS = [  # (name, f, args): checked to second order, forward and reverse
    ("loop", loop, (V3,)),
    ("branch_true", branch_on_value, (V3,)),
    ("branch_false", branch_on_value, (-V3,)),
    ("recursion", recursion, (V3,)),
    ("closure", make_closure(np.array([0.5, -1.0, 2.0])), (V3B,)),
    ("while_doubling", while_doubling, (V3,)),
    ("mlp", mlp, (PARAMS, M23)),
    ("softmax_xent", softmax_xent, (M23, np.eye(3)[:2])),
    ("pytree_args", pytree_args, ({"a": V3, "bc": (V3B, V3)}, 0.7)),
    ("vector_output", lambda x: jnp.sin(x)[::-1] * x, (V3,)),
]


@pytest.mark.parametrize("name,f,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_python_programs_match_finite_differences(name, f, args):
    check_grads(f, args, order=2)


def test_grad_of_closure_matches_analytic():
    c = np.array([0.5, -1.0, 2.0])
    expected = c * c * (1 - np.tanh(c * V3B) ** 2)
    assert_close(spmd.grad(make_closure(c))(V3B), expected)


# ---------------------------------------------------------------- higher order
def test_third_derivative_matches_analytic():
    f = lambda x: x ** 4 + jnp.sin(x) * x
    d3 = spmd.grad(spmd.grad(spmd.grad(f)))
    for x in [0.3, -1.2, 2.0]:
        # (x^4)''' = 24x ; (x sin x)''' = -3 sin x - x cos x
        assert_close(d3(x), np.float64(24 * x - 3 * np.sin(x) - x * np.cos(x)), check_dtype=False)


def scalar_field(x):
    return jnp.sum(jnp.sin(x) * x[::-1]) + jnp.prod(x) + jnp.sum(x ** 3) / 3


def finite_difference_hessian(f, x, h=1e-4):
    n = x.size
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = (float(f(x + ei + ej)) - float(f(x + ei - ej)) - float(f(x - ei + ej))
                          + float(f(x - ei - ej))) / (4 * h * h)
    return hess


HESSIANS = [
    ("fwd_over_rev", lambda f: spmd.jacfwd(spmd.jacrev(f))),
    ("rev_over_fwd", lambda f: spmd.jacrev(spmd.jacfwd(f))),
    ("rev_over_rev", lambda f: spmd.jacrev(spmd.jacrev(f))),
    ("fwd_over_fwd", lambda f: spmd.jacfwd(spmd.jacfwd(f))),
    ("hessian", spmd.hessian),
]


@pytest.mark.parametrize("name,make", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessians_agree_with_finite_differences(name, make):
    expected = finite_difference_hessian(scalar_field, V3)
    assert_close(make(scalar_field)(V3), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- Jacobians
def numerical_jacobian(f, args, argnum):
    """d f / d args[argnum] by central differences, one column per input element."""
    x = np.asarray(args[argnum], np.float64)
    cols = []
    for k in range(x.size):
        t = [np.zeros_like(np.asarray(a, np.float64)) for a in args]
        t[argnum] = np.eye(x.size)[k].reshape(x.shape)
        cols.append(np.asarray(numerical_jvp(f, tuple(args), tuple(t))))
    out_shape = cols[0].shape
    return np.stack(cols, axis=-1).reshape(out_shape + x.shape)


JACOBIANS = [  # (name, f: R^n -> R^m with m != n, args, argnums)
    ("wide", lambda x: jnp.stack([jnp.sum(x ** 2), jnp.prod(jnp.sin(x))]), (V3,), 0),
    ("tall", lambda x: jnp.concatenate([jnp.sin(x), x * x[0]]), (V3[:2],), 0),
    ("matrix_in", lambda m: jnp.tanh(m) @ V3, (M23,), 0),
    ("second_arg", lambda x, m: m @ jnp.exp(x), (V3, M23), 1),
    ("negative_argnum", lambda x, m: m @ jnp.exp(x), (V3, M23), -2),
]


@pytest.mark.parametrize("name,f,args,argnum", JACOBIANS, ids=[j[0] for j in JACOBIANS])
@pytest.mark.parametrize("jac", [spmd.jacfwd, spmd.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobian_matches_finite_differences(jac, name, f, args, argnum):
    expected = numerical_jacobian(f, args, argnum % len(args))
    assert_close(jac(f, argnums=argnum)(*args), expected, rtol=1e-6, atol=1e-6)


def test_jacobians_of_pytrees_have_jax_structure():
    def f(p, s):
        return {"u": p["a"] * s[0], "v": (jnp.sum(p["b"]) * s, jnp.sin(p["a"]))}
    p, s = {"a": V3, "b": M23}, V3B[:2]
    fwd, rev = spmd.jacfwd(f, argnums=(0, 1))(p, s), spmd.jacrev(f, argnums=(0, 1))(p, s)
    assert_close(fwd, rev)
    # output structure outside, (arguments) structure inside, shapes out.shape + in.shape
    assert fwd["u"][0]["a"].shape == (3, 3) and fwd["u"][0]["b"].shape == (3, 2, 3)
    assert fwd["v"][0][1].shape == (2, 2) and fwd["u"][1].shape == (3, 2)
    assert_close(fwd["v"][1][0]["a"], np.diag(np.cos(V3)))
    assert_close(fwd["v"][0][0]["b"], np.broadcast_to(s[:, None, None], (2, 2, 3)))


@pytest.mark.parametrize("jac", [spmd.jacfwd, spmd.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobian_has_aux(jac):
    jacobian, aux = jac(lambda x: (jnp.sin(x), {"norm": jnp.sum(x * x)}), has_aux=True)(V3)
    assert_close(jacobian, np.diag(np.cos(V3)))
    assert_close(aux, {"norm": np.sum(V3 * V3)})


def test_jacobian_dtype_errors():
    with pytest.raises(TypeError, match="jacfwd requires real-valued inputs .* but got int32"):
        spmd.jacfwd(jnp.sin)(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="jacrev requires real- or complex-valued inputs"):
        spmd.jacrev(jnp.sin)(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs .* but got "
                                        "complex128"):
        spmd.jacrev(lambda x: x * (1 + 1j))(V3)


# ---------------------------------------------------------------- jit and grad compose
def test_jit_of_grad_equals_grad_of_jit_and_is_one_program():
    f = lambda x, m: jnp.sum(jnp.tanh(m @ x) ** 2)
    expected = spmd.grad(f)(V3, M23)
    assert_close(spmd.jit(spmd.grad(f))(V3, M23), expected)
    assert_close(spmd.grad(spmd.jit(f))(V3, M23), expected)
    assert_close(spmd.jit(spmd.grad(spmd.jit(f)))(V3, M23), expected)
    text = spmd.jit(spmd.grad(f)).lower(V3, M23).as_text()
    assert text.count("func.func") == 1


# ---------------------------------------------------------------- argnums, has_aux, kwargs
def two_args(x, y):
    return jnp.sum(jnp.sin(x) * y)


@pytest.mark.parametrize("argnums,expected", [
    (0, lambda x, y: np.cos(x) * y),
    (1, lambda x, y: np.sin(x)),
    (-1, lambda x, y: np.sin(x)),
    ((0, 1), lambda x, y: (np.cos(x) * y, np.sin(x))),
    ((1,), lambda x, y: (np.sin(x),)),
])
def test_grad_argnums(argnums, expected):
    assert_close(spmd.grad(two_args, argnums=argnums)(V3, V3B), expected(V3, V3B))


def test_value_and_grad_has_aux_and_kwargs():
    def f(x, y, *, scale):
        return jnp.sum(x * y) * scale, {"y": y * 2}
    (value, aux), g = spmd.value_and_grad(f, has_aux=True)(V3, V3B, scale=3.0)
    assert_close(value, np.sum(V3 * V3B) * 3.0)
    assert_close(aux, {"y": V3B * 2})
    assert_close(g, V3B * 3.0)
    g2, aux2 = spmd.grad(f, has_aux=True)(V3, V3B, scale=3.0)
    assert_close((g2, aux2), (V3B * 3.0, {"y": V3B * 2}))


def test_jvp_and_vjp_has_aux():
    f = lambda x: (jnp.sin(x), jnp.sum(x))
    out, tangent, aux = spmd.jvp(f, (V3,), (V3B,), has_aux=True)
    assert_close((out, tangent, aux), (np.sin(V3), np.cos(V3) * V3B, np.sum(V3)))
    out, pullback, aux = spmd.vjp(f, V3, has_aux=True)
    assert_close((pullback(V3B), aux), ((np.cos(V3) * V3B,), np.sum(V3)))


# ---------------------------------------------------------------- integer and boolean values
def float0_zeros(shape):
    return np.zeros(shape, dtypes.float0)


def test_jvp_with_integer_input_and_output():
    n = np.arange(1, 4, dtype=np.int32)

    def f(x, n):
        return x * n, n * 2, x > 1.0
    (y, m, b), (ty, tm, tb) = spmd.jvp(f, (V3, n), (V3B, float0_zeros((3,))))
    assert_close((y, m, b), (V3 * n, n * 2, V3 > 1.0))
    assert_close(ty, V3B * n)
    assert tm.dtype == dtypes.float0 and tm.shape == (3,)
    assert tb.dtype == dtypes.float0 and tb.shape == (3,)


def test_vjp_with_integer_input_gives_float0():
    out, pullback = spmd.vjp(lambda x, n, flag: x * n * flag, V3, np.int32(3), np.bool_(True))
    gx, gn, gflag = pullback(V3B)
    assert_close(gx, V3B * 3)
    assert gn.dtype == dtypes.float0 and gn.shape == ()
    assert gflag.dtype == dtypes.float0


def test_grad_allow_int():
    gx, gn = spmd.grad(lambda x, n: jnp.sum(x * n), argnums=(0, 1), allow_int=True)(V3, 4)
    assert_close(gx, np.full(3, 4.0))
    assert gn.dtype == dtypes.float0


def test_grad_through_integer_intermediates():
    # argmax and casts carry no tangent: the gradient flows only through the float path
    f = lambda x: jnp.sum(x * jnp.argmax(x).astype(x.dtype)) + jnp.sum(x.astype(np.int32))
    assert_close(spmd.grad(f)(V3), np.full(3, float(np.argmax(V3))))


# ---------------------------------------------------------------- stop_gradient
def sum_x_times_frozen_sin(x):
    return jnp.sum(x * spmd.lax.stop_gradient(jnp.sin(x)))


STOP_GRADIENT_CASES = [  # d/dx sum(x * sin(x)) with sin(x) frozen is sin(x)
    ("eager", spmd.grad(sum_x_times_frozen_sin), V3),
    ("jit_of_grad", spmd.jit(spmd.grad(sum_x_times_frozen_sin)), V3),
    ("grad_of_jit", spmd.grad(spmd.jit(sum_x_times_frozen_sin)), V3),
    ("vmap_of_grad", spmd.vmap(spmd.grad(sum_x_times_frozen_sin)), M23),
]


@pytest.mark.parametrize("name,g,x", STOP_GRADIENT_CASES, ids=[c[0] for c in STOP_GRADIENT_CASES])
def test_stop_gradient(name, g, x):
    assert_close(g(x), np.sin(x))


def test_stop_gradient_on_pytrees_and_integers():
    tree = {"a": V3, "n": np.arange(3, dtype=np.int32), "f": jnp.sin}
    out = spmd.lax.stop_gradient(tree)
    assert out["f"] is jnp.sin
    g = spmd.grad(lambda x: jnp.sum(spmd.lax.stop_gradient({"x": x})["x"] * x))(V3)
    assert_close(g, V3)
    _, t = spmd.jvp(lambda x: spmd.lax.stop_gradient(x) + x, (V3,), (V3B,))
    assert_close(t, V3B)


# ---------------------------------------------------------------- errors
def test_error_non_scalar_output():
    with pytest.raises(TypeError, match=r"Gradient only defined for scalar-output functions. "
                                        r"Output had shape: \(3,\)"):
        spmd.grad(jnp.sin)(V3)


def test_error_integer_input():
    with pytest.raises(TypeError, match="grad requires real- or complex-valued inputs .* but "
                                        "got int32. If you want to use Boolean- or integer-valued "
                                        "inputs, use vjp or set allow_int to True"):
        spmd.grad(lambda x: jnp.sum(x * 1.0))(np.arange(3, dtype=np.int32))


def test_error_integer_or_complex_output():
    with pytest.raises(TypeError, match="grad requires real-valued outputs .* but got int"):
        spmd.grad(lambda x: jnp.sum(x).astype(np.int32))(V3)
    with pytest.raises(TypeError, match="pass holomorphic=True"):
        spmd.grad(lambda x: jnp.sum(x) * 1j)(V3)


def test_error_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"argnums=\(0, 2\) requires at least 3 positional "
                                         "arguments .* got only 2"):
        spmd.grad(two_args, argnums=(0, 2))(V3, V3B)


def test_error_tangent_shape_and_dtype_mismatch():
    with pytest.raises(ValueError, match=r"jvp called with different primal and tangent shapes; "
                                         r"got primal shape \(3,\) and tangent shape \(2,\)"):
        spmd.jvp(jnp.sin, (V3,), (V3[:2],))
    with pytest.raises(TypeError, match="Got primal dtype int32 and so expected tangent dtype "
                                        "float0, but got tangent dtype int32"):
        spmd.jvp(lambda n: n * 2, (np.int32(1),), (np.int32(1),))
    with pytest.raises(TypeError, match="expected tangent dtype float64, but got tangent dtype "
                                        "float32"):
        spmd.jvp(jnp.sin, (V3,), (V3.astype(np.float32),))


def test_error_has_aux_without_pair():
    with pytest.raises(TypeError, match=r"has_aux=True needs the function to return a pair"):
        spmd.grad(lambda x: jnp.sum(x), has_aux=True)(V3)


def test_error_cotangent_shape_mismatch():
    _, pullback = spmd.vjp(jnp.sin, V3)
    with pytest.raises(ValueError, match=r"cotangent of shape \(2,\) for an output of shape "
                                         r"\(3,\)"):
        pullback(V3[:2])
