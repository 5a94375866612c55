"""jax.custom_batching (custom_vmap, sequential_vmap): the function itself runs unbatched, the
user's rule under vmap; forward mode through the JVP of the rule; reverse mode only through
custom_vjp. Oracles: NumPy on the same inputs, and the unbatched function run in a loop."""
import numpy as np
import pytest

import spmd
import spmd.custom_batching
import spmd.numpy as jnp
from spmd.custom_batching import custom_vmap, sequential_vmap

XS = np.array([0.3, 1.1, 2.0], np.float32)


def _sin_with_cos_rule(log=None):
    """sin, whose vmap rule computes cos: which one ran shows in the values."""
    @custom_vmap
    def f(x):
        return jnp.sin(x)

    @f.def_vmap
    def rule(axis_size, in_batched, xs):
        if log is not None:
            log.append((axis_size, in_batched, np.shape(xs)))
        return jnp.cos(xs), in_batched[0]
    return f


def test_module_is_jax_custom_batching():
    assert spmd.custom_batching.custom_vmap is custom_vmap
    assert spmd.custom_batching.sequential_vmap is sequential_vmap


def test_the_function_runs_unbatched_and_the_rule_under_vmap():
    log = []
    f = _sin_with_cos_rule(log)
    np.testing.assert_allclose(f(XS[0]), np.sin(XS[0]), rtol=1e-6)
    np.testing.assert_allclose(spmd.jit(f)(XS[0]), np.sin(XS[0]), rtol=1e-6)
    for batched in (spmd.vmap(f), spmd.jit(spmd.vmap(f)), spmd.vmap(spmd.jit(f))):
        np.testing.assert_allclose(batched(XS), np.cos(XS), rtol=1e-6)
    assert log[0] == (3, [True], (3,)) and type(log[0][0]) is int
    # nested: the inner vmap's rule runs once; the outer vmap batches the rule's own code
    log.clear()
    grid = np.stack([XS, XS + 1])
    np.testing.assert_allclose(spmd.vmap(spmd.vmap(f))(grid), np.cos(grid), rtol=1e-6)
    assert [entry[:2] for entry in log] == [(3, [True])]


def test_mixed_batching_trees_and_keywords():
    seen = []

    @custom_vmap
    def dot(u, v):
        return u @ v

    @dot.def_vmap
    def dot_rule(axis_size, in_batched, u, v):
        seen.append(list(in_batched))
        ub, vb = in_batched
        out = jnp.sum(u * v, axis=1) if ub and vb else (u @ v if ub else v @ u)
        return out + 100.0, ub or vb  # +100: the rule's result, not the function's
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_allclose(spmd.vmap(dot, in_axes=(0, None))(a, b), a @ b + 100)
    np.testing.assert_allclose(spmd.vmap(dot, in_axes=(1, None))(a.T, b), a @ b + 100)
    np.testing.assert_allclose(spmd.vmap(dot, in_axes=(None, 0))(b, a), a @ b + 100)
    np.testing.assert_allclose(spmd.vmap(dot)(a, a), (a * a).sum(1) + 100)
    np.testing.assert_allclose(spmd.vmap(lambda v: dot(u=b, v=v))(a), a @ b + 100)
    assert seen == [[True, False], [True, False], [False, True], [True, True], [False, True]]

    @custom_vmap
    def tree_f(t):
        return {"s": jnp.sin(t[0]), "c": [jnp.cos(t[1][0])]}

    @tree_f.def_vmap
    def tree_rule(axis_size, in_batched, t):
        assert in_batched == [(True, [True, None])]
        return {"s": t[0] * 2, "c": [t[1][0] * 3]}, {"s": True, "c": [True]}
    out = tree_f((XS[0], [XS[1], None]))
    np.testing.assert_allclose([out["s"], out["c"][0]], [np.sin(XS[0]), np.cos(XS[1])],
                               rtol=1e-6)
    out = spmd.vmap(tree_f)((XS, [XS + 1, None]))
    np.testing.assert_allclose(out["s"], XS * 2)
    np.testing.assert_allclose(out["c"][0], (XS + 1) * 3, rtol=1e-6)


def test_rule_errors_in_jax_words():
    def with_rule(rule, fun=jnp.sin):
        f = custom_vmap(lambda x: fun(x))
        f.def_vmap(rule)
        return f

    def rule_abc(axis_size, in_batched, xs):
        return [jnp.sin(xs), jnp.cos(xs)], in_batched
    with pytest.raises(ValueError, match=r"structure of output value and output batching "
                       r"specification returned by custom vmap rule \(rule_abc\) do not match"):
        spmd.vmap(with_rule(rule_abc))(XS)

    def rule_abc2(axis_size, in_batched, xs):
        return [jnp.sin(xs)], in_batched
    with pytest.raises(ValueError, match=r"structure of output returned by custom vmap rule "
                       r"\(rule_abc2\) does not match that of original custom-vmapped function"):
        spmd.vmap(with_rule(rule_abc2))(XS)

    def unbatched_shape(axis_size, in_batched, xs):
        return xs, False
    with pytest.raises(ValueError, match=r"output 0 of shape \(3,\) marked not batched.*"
                       r"expected shape \(\)"):
        spmd.vmap(with_rule(unbatched_shape))(XS)

    def not_a_pair(axis_size, in_batched, xs):
        return xs
    with pytest.raises(TypeError, match=r"rule \(not_a_pair\) must return a pair"):
        spmd.vmap(with_rule(not_a_pair))(XS)

    @custom_vmap
    def no_rule(x):
        return jnp.sin(x)
    with pytest.raises(AttributeError, match="No batching rule defined for custom_vmap "
                       "function no_rule using def_vmap"):
        no_rule(0.5)

    @custom_vmap
    def two(x, y, *, z=None):
        return jnp.sin(x) * y
    two.def_vmap(lambda *a: pytest.fail("the rule must not run"))
    with pytest.raises(TypeError, match=r"custom_vmap-decorated function two could not be "
                       r"resolved.*\nmissing a required argument: 'y'"):
        two(0.5)
    with pytest.raises(TypeError, match="The following keyword arguments could not be "
                       "resolved to positions: z"):
        two(0.5, 0.1, z=1.0)


def test_a_closed_over_vmapped_value_is_an_error():
    def outer(z):
        f = custom_vmap(lambda x: z * jnp.sin(x))
        f.def_vmap(lambda n, b, xs: (z * jnp.cos(xs), b[0]))
        return f(XS[0])
    with pytest.raises(ValueError, match="closes over a value that the enclosing vmap maps.*"
                       "Pass that value to the custom_vmap function as an argument"):
        spmd.vmap(outer)(XS)


def test_forward_mode_uses_the_jvp_of_the_rule():
    log = []
    f = _sin_with_cos_rule(log)
    t = np.float32(2.0)
    y, ty = spmd.jvp(f, (XS[0],), (t,))
    np.testing.assert_allclose([y, ty], [np.sin(XS[0]), np.cos(XS[0]) * t], rtol=1e-6)

    def f_jvp(x, tx):
        return spmd.jvp(f, (x,), (tx,))
    for ys, tys in (spmd.vmap(f_jvp)(XS, 2 * XS), spmd.jvp(spmd.vmap(f), (XS,), (2 * XS,))):
        np.testing.assert_allclose(ys, np.cos(XS), rtol=1e-6)
        np.testing.assert_allclose(tys, -np.sin(XS) * 2 * XS, rtol=1e-6)
    # only the tangents batched: the rule sees unbatched primals, its JVP is vmapped
    log.clear()
    y, tys = spmd.vmap(f_jvp, in_axes=(None, 0), out_axes=(None, 0))(XS[0], XS)
    np.testing.assert_allclose(y, np.cos(XS[0]), rtol=1e-6)
    np.testing.assert_allclose(tys, -np.sin(XS[0]) * XS, rtol=1e-6)
    assert log == [(3, [False], ())]
    # only the primals batched
    ys, tys = spmd.vmap(f_jvp, in_axes=(0, None))(XS, t)
    np.testing.assert_allclose(tys, -np.sin(XS) * t, rtol=1e-6)
    np.testing.assert_allclose(spmd.jacfwd(f)(XS), np.diag(-np.sin(XS)), rtol=1e-6, atol=1e-7)


def test_jvp_under_vmap_with_arguments_batched_differently():
    seen = []

    @custom_vmap
    def f(x, y, n):
        return jnp.sin(x) * y * n

    @f.def_vmap
    def rule(axis_size, in_batched, xs, ys, ns):
        seen.append(in_batched)
        return jnp.cos(xs) * ys * ns, any(in_batched)
    ys, ns = XS + 1, np.arange(3, dtype=np.int32)
    # x batched in primal and tangent, y only in its primal, n (an integer) has no tangent
    out, t = spmd.vmap(lambda x, y, tx, n: spmd.jvp(lambda a, b: f(a, b, n), (x, y),
                                                    (tx, np.float32(1.0))))(XS, ys, 2 * XS, ns)
    np.testing.assert_allclose(out, np.cos(XS) * ys * ns, rtol=1e-6)
    np.testing.assert_allclose(t, (-np.sin(XS) * 2 * XS * ys + np.cos(XS)) * ns, rtol=1e-5)
    assert seen == [[True, True, True]]
    # no argument batched in both: JAX's way, the rule's JVP vmapped over the batch
    seen.clear()
    out, t = spmd.vmap(lambda x, n: spmd.jvp(lambda a: f(a, 2.0, n), (x,),
                                             (np.float32(1.0),)))(XS, ns)
    np.testing.assert_allclose(t, -np.sin(XS) * 2 * ns, rtol=1e-6)
    assert seen == [[False, False, False]]


def test_a_linear_rule_keeps_a_shared_tangent_unbatched():
    linear = custom_vmap(lambda x: 7.0 * x)
    linear.def_vmap(lambda n, b, xs: (11.0 * xs, b[0]))
    t = np.float32(4.0)
    ys, ty = spmd.vmap(lambda x, tx: spmd.jvp(linear, (x,), (tx,)),
                       in_axes=(0, None), out_axes=(0, None))(XS, t)
    np.testing.assert_allclose(ys, 11 * XS, rtol=1e-6)
    np.testing.assert_allclose(ty, 44.0)
    nonlinear = _sin_with_cos_rule()
    with pytest.raises(ValueError, match="out_axes=None"):
        spmd.vmap(lambda x, tx: spmd.jvp(nonlinear, (x,), (tx,)),
                  in_axes=(0, None), out_axes=(0, None))(XS, t)


def test_jvp_through_a_closed_over_traced_value():
    def outer(z):
        f = custom_vmap(lambda x: z * jnp.sin(x))
        f.def_vmap(lambda n, b, xs: (z * jnp.cos(xs), b[0]))
        return f(XS[1])
    _, tz = spmd.jvp(outer, (np.float32(2.0),), (np.float32(1.0),))
    np.testing.assert_allclose(tz, np.sin(XS[1]), rtol=1e-6)


def test_reverse_mode_is_jax_error_unless_custom_vjp_is_outside():
    with pytest.raises(ValueError, match="Linearization failed to produce known values for "
                       "all output primals"):
        spmd.grad(_sin_with_cos_rule())(0.5)

    @spmd.custom_vjp
    @custom_vmap
    def f(x, y):
        return jnp.sin(x) * y

    @f.def_vmap
    def f_vmap_rule(axis_size, in_batched, xs, ys):
        return jnp.cos(xs) * ys, True

    def f_fwd(x, y):
        return f(x, y), (jnp.cos(x), jnp.sin(x), y)

    def f_bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)
    f.defvjp(f_fwd, f_bwd)
    ys = XS - 1
    np.testing.assert_allclose(spmd.vmap(f)(XS, ys), np.cos(XS) * ys, rtol=1e-6)
    gx, gy = spmd.grad(f, argnums=(0, 1))(XS[1], ys[1])
    np.testing.assert_allclose([gx, gy], [np.cos(XS[1]) * ys[1], np.sin(XS[1])], rtol=1e-6)


def test_sequential_vmap_loops_over_the_unbatched_function():
    calls = []

    @sequential_vmap
    def f(x, y):
        calls.append(np.shape(x))  # traced once, on one example
        return x * y + 1.0
    ys = XS + 2
    np.testing.assert_allclose(spmd.vmap(f)(XS, ys), XS * ys + 1, rtol=1e-6)
    np.testing.assert_allclose(spmd.vmap(f, in_axes=(0, None))(XS, 4.0), XS * 4 + 1, rtol=1e-6)
    assert calls and all(shape == () for shape in calls)
    program = str(spmd.make_jaxpr(spmd.vmap(f))(XS, ys))
    assert "scan" in program and "custom_vmap_call" in program

    # as both rules of a custom_vjp, under vmap of jit
    fwd = sequential_vmap(lambda x, y: (jnp.sin(x) * y, (x, y)))
    bwd = sequential_vmap(lambda res, ct: (res[0] * ct, res[1] * ct))
    fun = spmd.custom_vjp(lambda x, y: fwd(x, y)[0])
    fun.defvjp(fwd, bwd)
    out, f_vjp = spmd.vjp(spmd.vmap(spmd.jit(fun), in_axes=(0, None)), XS, np.float32(0.5))
    gx, gy = f_vjp(out)
    np.testing.assert_allclose(gx, XS * out, rtol=1e-6)
    np.testing.assert_allclose(gy, np.sum(0.5 * np.asarray(out)), rtol=1e-6)
