"""The vmap API (issue 4): in_axes/out_axes as ints, None, negative axes and pytree prefixes,
keyword arguments, axis_size, nesting, composition with grad/jacobians/jit, named axes, and the
error texts. The oracle is always the unbatched function applied in a Python loop."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close, check_mapped

RNG = np.random.default_rng(2)
M = RNG.normal(size=(2, 3)).astype(np.float32)
N = RNG.normal(size=(3, 2)).astype(np.float32)
V = RNG.normal(size=3).astype(np.float32)


def stack(values, axis=0):
    return spmd.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis),
                                   *values)


# ---------------------------------------------------------------- in_axes / out_axes
def affine(x, y):
    return jnp.tanh(x * 2.0 + y)


MAPPED = [  # (name, fun, args, in_axes, out_axes): vmap(fun) equals the loop
    ("axis0", jnp.sin, (M,), 0, 0),
    ("axis1", jnp.sin, (M,), 1, 0),
    ("negative_in", jnp.sin, (M,), -1, 0),
    ("negative_out", jnp.sin, (M,), 0, -1),
    ("out_axis1", lambda x: jnp.outer(x, x), (M,), 0, 1),
    ("unmapped_arg", affine, (M, V), (0, None), 0),
    ("mixed_axes", affine, (M, N), (0, 1), 1),
    ("list_in_axes", affine, (M, N), [1, 0], 0),
    ("scalar_output", lambda x, y: jnp.sum(x * y), (M, N), (1, 0), 0),
]


@pytest.mark.parametrize("name,fun,args,in_axes,out_axes", MAPPED, ids=[m[0] for m in MAPPED])
def test_vmap_equals_loop(name, fun, args, in_axes, out_axes):
    axes = tuple(in_axes) if isinstance(in_axes, list) else in_axes
    check_mapped(spmd.vmap(fun, in_axes=in_axes, out_axes=out_axes), fun, args, axes, out_axes)


def test_pytree_prefixes_in_in_axes():
    def f(p, pair):
        return p["a"] * p["b"] + pair[0] * pair[1]
    p = {"a": M, "b": N}       # a mapped along 0, b along 1
    pair = (M, V)              # the first mapped along 0, the second shared
    got = spmd.vmap(f, in_axes=({"a": 0, "b": 1}, (0, None)))(p, pair)
    expected = stack([f({"a": M[i], "b": N[:, i]}, (M[i], V)) for i in range(2)])
    assert_close(got, expected)


def test_pytree_out_axes_and_unmapped_output():
    def f(x):
        return {"moved": jnp.outer(x, V), "shared": V * 2.0, "sum": jnp.sum(x)}
    got = spmd.vmap(f, out_axes={"moved": 2, "shared": None, "sum": 0})(M)
    outs = [f(M[i]) for i in range(2)]
    assert_close(got["moved"], np.stack([o["moved"] for o in outs], axis=2))
    assert_close(got["shared"], V * 2.0)
    assert_close(got["sum"], np.stack([o["sum"] for o in outs]))


def test_keyword_arguments_are_mapped_on_axis_0():
    got = spmd.vmap(lambda x, *, y: x * y, in_axes=1)(M, y=N)
    assert_close(got, np.stack([M[:, i] * N[i] for i in range(3)]))


def test_axis_size_with_no_mapped_input():
    assert_close(spmd.vmap(lambda: jnp.ones(2) * 3.0, axis_size=4)(), np.full((4, 2), 3.0,
                                                                              np.float32))
    assert_close(spmd.vmap(lambda x: x + 1.0, in_axes=None, axis_size=3)(V),
                 np.broadcast_to(V + 1.0, (3, 3)))


def test_nested_vmap_is_an_outer_product():
    pairwise = spmd.vmap(spmd.vmap(lambda a, b: jnp.sum(a * b), in_axes=(None, 0)),
                         in_axes=(0, None))
    assert_close(pairwise(M, N.T), M @ N, rtol=1e-5)
    inner_axis1 = spmd.vmap(spmd.vmap(jnp.sin, in_axes=1, out_axes=1), in_axes=0, out_axes=0)
    assert_close(inner_axis1(M[None]), np.sin(M[None]))


# ---------------------------------------------------------------- composition
def loss(params, x, y):
    return (jnp.tanh(x @ params["w"] + params["b"]) - y) ** 2 @ jnp.ones(2)


PARAMS = {"w": N, "b": V[:2]}
XS = RNG.normal(size=(4, 3)).astype(np.float32)
YS = RNG.normal(size=(4, 2)).astype(np.float32)


def test_per_example_gradients_equal_the_loop():
    got = spmd.vmap(spmd.grad(loss), in_axes=(None, 0, 0))(PARAMS, XS, YS)
    expected = stack([spmd.grad(loss)(PARAMS, XS[i], YS[i]) for i in range(4)])
    assert_close(got, expected, rtol=1e-5)
    jitted = spmd.jit(spmd.vmap(spmd.grad(loss), in_axes=(None, 0, 0)))(PARAMS, XS, YS)
    assert_close(jitted, expected, rtol=1e-5)


def test_grad_of_vmap_sums_the_examples():
    total = lambda p: jnp.sum(spmd.vmap(loss, in_axes=(None, 0, 0))(p, XS, YS))
    expected = spmd.tree_util.tree_map(lambda *g: np.sum(np.stack(g), axis=0),
                                       *[spmd.grad(loss)(PARAMS, XS[i], YS[i]) for i in range(4)])
    assert_close(spmd.grad(total)(PARAMS), expected, rtol=1e-5, atol=1e-6)


def vector_fn(x):
    return jnp.sin(x[:2]) * jnp.sum(x ** 2)


@pytest.mark.parametrize("jac", [spmd.jacfwd, spmd.jacrev], ids=["jacfwd", "jacrev"])
def test_vmap_of_jacobian_equals_the_loop(jac):
    check_mapped(spmd.vmap(jac(vector_fn)), jac(vector_fn), (XS,))


def test_jacrev_through_vmap_is_block_diagonal():
    jacobian = spmd.jacrev(spmd.vmap(vector_fn))(XS[:2])          # (2, 2) outputs x (2, 3) inputs
    for i in range(2):
        for j in range(2):
            block = spmd.jacfwd(vector_fn)(XS[i]) if i == j else np.zeros((2, 3), np.float32)
            assert_close(jacobian[i, :, j], block, rtol=1e-5, atol=1e-6)


def test_jit_of_vmap_and_vmap_of_jit():
    check_mapped(spmd.jit(spmd.vmap(affine, in_axes=(0, None))), affine, (M, V), (0, None))
    check_mapped(spmd.vmap(spmd.jit(affine), in_axes=(1, 0)), affine, (N, M), (1, 0))


@pytest.mark.skipif(not hasattr(spmd.lax, "psum"),
                    reason="spmd.lax.psum (named-axis collectives) is not available yet")
def test_named_axis_collective_under_vmap():
    got = spmd.vmap(lambda x: x - spmd.lax.psum(x, "i"), axis_name="i")(M)
    assert_close(got, M - M.sum(axis=0, keepdims=True), rtol=1e-5)


# ---------------------------------------------------------------- errors
def test_error_out_axes_none_for_a_varying_output():
    with pytest.raises(ValueError, match="vmap has out_axes=None for output 0, but that output "
                                         "varies along the mapped axis"):
        spmd.vmap(jnp.sin, out_axes=None)(M)


def test_error_inconsistent_sizes_names_arguments_and_sizes():
    with pytest.raises(ValueError, match=r"vmap got inconsistent sizes for array axes to be "
                                         r"mapped:\n  \* one axis had size 2: axis 0 of argument 0 "
                                         r"\(x\) of type f32\[2,3\];\n  \* one axis had size 3: "
                                         r"axis 0 of argument 1 \(y\) of type f32\[3,2\]\."):
        spmd.vmap(affine)(M, N)
    with pytest.raises(ValueError, match=r"one axis had size 3: axis 0 of keyword argument 'y' "
                                         r"of type f32\[3,2\]"):
        spmd.vmap(lambda x, y: x)(M, y=N)
    # the most common size first, with an example; a pytree leaf is named by its key path
    with pytest.raises(ValueError, match=r"  \* most axes \(2 of them\) had size 2, e\.g\. axis 0 "
                                         r"of argument 0 \(p\)\['a'\] of type f32\[2,3\];\n  \* "
                                         r"one axis had size 3: axis 0 of argument 0 "
                                         r"\(p\)\['c'\]\[1\]"):
        spmd.vmap(lambda p: p)({"a": M, "c": (M, N)})


def test_error_axes_out_of_range():
    with pytest.raises(ValueError, match=r"vmap was requested to map argument 0 \(x\) along "
                                         r"axis 2, "
                                         r"which implies that its rank should be at least 3, but "
                                         r"it is only 2 \(its shape is \(2, 3\)\)"):
        spmd.vmap(jnp.sin, in_axes=2)(M)
    with pytest.raises(ValueError, match=r"vmap out_axes=2 is out of range for output 0: .*"
                                         r"\(valid out_axes: -2 to 1\)"):
        spmd.vmap(jnp.sin, out_axes=2)(M)


def test_error_bad_in_axes_specifications():
    with pytest.raises(ValueError, match=r"but got len\(in_axes\)=1, len\(args\)=2"):
        spmd.vmap(affine, in_axes=(0,))(M, M)
    with pytest.raises(TypeError, match=r"vmap in_axes must be an int, None, or \(nested\) "
                                        r"container with those types as leaves, but got "
                                        r"in_axes=\(0, 'x'\)"):
        spmd.vmap(affine, in_axes=(0, "x"))
    with pytest.raises(TypeError, match=r"vmap in_axes must be an int, None, or a tuple of "
                                        r"entries corresponding to the positional arguments"):
        spmd.vmap(affine, in_axes={"x": 0})
    with pytest.raises(ValueError, match=r"vmap in_axes specification must be a tree prefix of "
                                         r"the corresponding value; pytree structure error: "
                                         r"different pytree metadata at key path\n    vmap "
                                         r"in_axes\[0\]\nAt that key path, the prefix pytree vmap "
                                         r"in_axes has a subtree of type dict with keys \['b'\], "
                                         r"but at the same key path the full pytree has a subtree "
                                         r"of the same type but with keys \['a'\]"):
        spmd.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": M})
    with pytest.raises(ValueError, match=r"key path\n    vmap out_axes\[1\]\nAt that key path, "
                                         r"the prefix pytree vmap out_axes has a subtree of type "
                                         r"<class 'tuple'>, but at the same key path the full "
                                         r"pytree has a leaf"):
        spmd.vmap(lambda x: (x, x), out_axes=(0, (0, 0)))(M)
    with pytest.raises(ValueError, match="vmap must have at least one non-None value in in_axes"):
        spmd.vmap(jnp.sin, in_axes=None)(M)
    with pytest.raises(ValueError, match="vmap got axis_size=5 but the mapped inputs have size 2"):
        spmd.vmap(jnp.sin, axis_size=5)(M)


def test_spmd_axis_name_is_checked_and_leaves_values_alone():
    # it only lays out shard_maps and sharding constraints inside (tests/spmd/
    # test_vmap_spmd_axis.py); a function without them computes as a plain vmap
    np.testing.assert_allclose(spmd.vmap(jnp.sin, spmd_axis_name=("d", "e"))(M), np.sin(M),
                               rtol=1e-6)
    with pytest.raises(TypeError, match=r"spmd_axis_name must be a mesh axis name or a "
                                        r"non-empty tuple of them, got 3"):
        spmd.vmap(jnp.sin, spmd_axis_name=3)
