"""lax.stack, unstack, split and tile as JAX's primitives stack_p, unstack_p, split_p and tile_p:
one equation each, values
against np.split/np.tile for the dtype families, derivatives against finite differences (with
chunks that get no cotangent), and vmap against the unbatched function along each axis."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads, check_mapped
from tests.transforms.random_operands import draw

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_, np.complex64, dtypes.bfloat16])
def test_values_and_one_equation_each(dtype):
    x = draw(rng, (3, 4), dtype) if dtype != np.bool_ else rng.random((3, 4)) < 0.5
    for got, want in zip(spmd.jit(lambda x: lax.split(x, [1, 0, 3], 1))(x),
                         np.split(x, [1, 1], 1)):
        assert_close(got, want)
    assert_close(spmd.jit(lambda x: lax.tile(x, (2, 1)))(x), np.tile(x, (2, 1)))
    assert_close(spmd.jit(lambda x: lax.stack([x, x[::-1]], 1))(x), np.stack([x, x[::-1]], 1))
    for got, want in zip(spmd.jit(lambda x: lax.unstack(x, 1))(x), np.moveaxis(x, 1, 0)):
        assert_close(got, want)
    eqns = spmd.make_jaxpr(lambda x: (lax.split(x, [2, 1], 0), lax.tile(x, (1, 3)),
                                      lax.stack([x, x]), lax.unstack(x)))(x).jaxpr.eqns
    assert [e.prim for e in eqns] == [lax.split_p, lax.tile_p, lax.stack_p, lax.unstack_p]


def test_derivatives_match_finite_differences(x64):
    x = rng.standard_normal((3, 4))
    check_grads(lambda x: lax.split(x, [3, 1], 1)[0] ** 2, (x,), order=2)
    check_grads(lambda x: lax.tile(x, (2, 3)) ** 2, (x,), order=2)
    check_grads(lambda x, y: lax.stack([x, y * x], 1) ** 2, (x, x[::-1]), order=2)
    check_grads(lambda x: lax.unstack(x, 1)[2] ** 2, (x,), order=2)
    # the chunks nobody uses get zero cotangent; the tiles' cotangents add up
    g = spmd.grad(lambda x: lax.split(x, [1, 2], 0)[1].sum())(x)
    np.testing.assert_array_equal(np.asarray(g), np.repeat([[0.], [1.], [1.]], 4, 1))
    g = spmd.grad(lambda x: lax.tile(x, (2, 3)).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), np.full((3, 4), 6.))


@pytest.mark.parametrize("in_axis", [0, 1, 2])
def test_vmap_matches_the_unbatched_function(in_axis):
    xs = rng.standard_normal((2, 3, 4)).astype(np.float32)
    split = lambda x: lax.split(x, [1, 2], 0)  # noqa: E731
    batched = np.moveaxis(xs, 0, in_axis)
    mapped = spmd.vmap(split, in_axes=in_axis)(batched)
    unbatched = [split(np.take(batched, i, in_axis)) for i in range(batched.shape[in_axis])]
    for k, part in enumerate(mapped):
        assert_close(part, np.stack([u[k] for u in unbatched]))
    for f in (lambda x: lax.tile(x, (2, 3)), lambda x: lax.stack([x, 2 * x], 1),
              lambda x: lax.unstack(x, 1)):
        check_mapped(spmd.vmap(f, in_axes=in_axis), f, (batched,), in_axes=in_axis)
    with_unbatched = lambda a: lax.stack([a, xs[0]], 2)  # noqa: E731  (one operand unbatched)
    check_mapped(spmd.vmap(with_unbatched, in_axes=in_axis), with_unbatched, (batched,),
                 in_axes=in_axis)
