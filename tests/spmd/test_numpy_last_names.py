"""The last jax.numpy names of issue 13 (packbits, unpackbits, polyfit, roots, histogram2d,
histogramdd, einsum_path, fromfile, frompyfunc, ufunc), each against NumPy, and their misuses."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int32, np.uint8, np.uint32])
def test_packbits_matches_numpy(dtype):
    x = RNG.integers(0, 3, (3, 13)).astype(dtype)
    for axis in (None, 0, -1):
        for order in ("big", "little"):
            out = jnp.packbits(x, axis, order)
            np.testing.assert_array_equal(out, np.packbits(x != 0, axis, bitorder=order))
            assert out.dtype == np.uint8


def test_unpackbits_matches_numpy_and_inverts_packbits():
    b = RNG.integers(0, 256, (3, 4)).astype(np.uint8)
    for axis in (None, 0, 1):
        for count in (None, 5, -3):
            for order in ("big", "little"):
                np.testing.assert_array_equal(jnp.unpackbits(b, axis, count, order),
                                              np.unpackbits(b, axis, count, bitorder=order))
    bits = RNG.integers(0, 2, (2, 11)).astype(np.uint8)
    np.testing.assert_array_equal(
        jnp.unpackbits(jnp.packbits(bits, axis=1), axis=1, count=11), bits)


def test_packbits_under_jit():
    x = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1], np.int32)
    np.testing.assert_array_equal(spmd.jit(jnp.packbits)(x), np.packbits(x))


def test_packbits_errors():
    with pytest.raises(TypeError, match="integer or boolean data type"):
        jnp.packbits(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="unsigned byte data type"):
        jnp.unpackbits(np.ones(3, np.int32))
    with pytest.raises(ValueError, match="'little' or 'big'"):
        jnp.packbits(np.ones(3, np.int32), bitorder="middle")


def _jit_polyfit(x, y, *args, **kwargs):
    """polyfit compiled once (eagerly it dispatches dozens of small operations)."""
    return spmd.jit(lambda x, y: jnp.polyfit(x, y, *args, **kwargs))(x, y)


def test_polyfit_matches_numpy(x64):
    x = np.linspace(-1, 2, 9)
    y = 0.5 * x ** 3 - x + 2 + 0.01 * RNG.standard_normal(9)
    np.testing.assert_allclose(_jit_polyfit(x, y, 3), np.polyfit(x, y, 3), rtol=1e-10)
    w = RNG.uniform(0.5, 2, 9)
    np.testing.assert_allclose(_jit_polyfit(x, y, 2, w=w), np.polyfit(x, y, 2, w=w), rtol=1e-10)
    y2 = np.stack([y, 2 * y + 1], axis=1)
    np.testing.assert_allclose(_jit_polyfit(x, y2, 2), np.polyfit(x, y2, 2), rtol=1e-10)
    c, resid, rank, s, rcond = _jit_polyfit(x, y, 2, full=True)
    c_np, resid_np, rank_np, s_np, rcond_np = np.polyfit(x, y, 2, full=True)
    np.testing.assert_allclose(resid, resid_np, rtol=1e-8)
    np.testing.assert_allclose(s, s_np, rtol=1e-10)
    assert int(rank) == rank_np and float(rcond) == pytest.approx(rcond_np)
    for cov in (True, "unscaled"):
        for yy in (y, y2):
            np.testing.assert_allclose(_jit_polyfit(x, yy, 2, cov=cov)[1],
                                       np.polyfit(x, yy, 2, cov=cov)[1], rtol=1e-8)


def test_polyfit_float32_default():
    x = np.linspace(0, 1, 5, dtype=np.float32)
    out = jnp.polyfit(x, 3 * x + 1, 1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [3, 1], atol=1e-5)


def test_polyfit_errors():
    x = np.arange(4.0)
    with pytest.raises(ValueError, match="deg >= 0"):
        jnp.polyfit(x, x, -1)
    with pytest.raises(TypeError, match="1-d x"):
        jnp.polyfit(np.ones((2, 2)), x, 1)
    with pytest.raises(TypeError, match="1-d or 2-d y"):
        jnp.polyfit(x, np.ones((4, 1, 1)), 1)
    with pytest.raises(TypeError, match="same length"):
        jnp.polyfit(x, x[:3], 1)
    with pytest.raises(ValueError, match="must exceed order"):
        jnp.polyfit(x, x, 3, cov=True)


def _sorted_roots(r):
    r = np.asarray(r)
    return r[np.lexsort((r.imag.round(6), r.real.round(6)))]


@pytest.mark.parametrize("p", [[1.0, -6, 11, -6], [0, 0, 2.0, 0, 2, 0, 0], [1.0, 0, 1], [5.0],
                               [0.0, 0]])
def test_roots_matches_numpy(p, x64):
    p = np.array(p)
    ours = jnp.roots(p)
    assert np.iscomplexobj(np.asarray(ours))
    np.testing.assert_allclose(_sorted_roots(ours), _sorted_roots(np.roots(p)), atol=1e-10)


def test_roots_without_stripping_traces_under_jit():
    p = np.array([1.0, -3, 2], np.float32)
    out = spmd.jit(lambda q: jnp.roots(q, strip_zeros=False))(p)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(_sorted_roots(out), [1, 2], atol=1e-5)
    assert not np.all(np.isfinite(np.asarray(jnp.roots(np.array([0.0, 1, 2]),
                                                       strip_zeros=False))))
    with pytest.raises(ValueError, match="rank-1"):
        jnp.roots(np.ones((2, 2)))
    with pytest.raises(TypeError, match="array-like"):
        jnp.roots([1.0, 2.0])  # as in JAX, a list is refused


def test_histogramdd_matches_numpy():
    sample = RNG.standard_normal((50, 3)).astype(np.float32)
    w = RNG.uniform(0, 1, 50).astype(np.float32)
    for kwargs in ({}, {"bins": (2, 3, 4)}, {"bins": 3, "range": [(-1, 1), (-2, 2), (0, 1)]},
                   {"bins": 4, "weights": w}, {"bins": 3, "density": True}):
        counts, edges = jnp.histogramdd(sample, **kwargs)
        counts_np, edges_np = np.histogramdd(sample, **kwargs)
        np.testing.assert_allclose(counts, counts_np, rtol=1e-5)
        for e, e_np in zip(edges, edges_np):
            np.testing.assert_allclose(e, e_np, rtol=1e-5)


def test_histogram2d_matches_numpy():
    x, y = RNG.standard_normal((2, 40)).astype(np.float32)
    for kwargs in ({}, {"bins": (3, 5)}, {"bins": np.array([-3, -1, 0, 1, 3.0])},
                   {"bins": 4, "range": [(-1, 1), (-2, 2)], "density": True}):
        ours = jnp.histogram2d(x, y, **kwargs)
        for a, b in zip(ours, np.histogram2d(x, y, **kwargs)):
            np.testing.assert_allclose(a, b, rtol=1e-5)


def test_histogramdd_errors():
    with pytest.raises(ValueError, match="must be 2-d"):
        jnp.histogramdd(np.ones(5))
    with pytest.raises(ValueError, match="one entry per dimension"):
        jnp.histogramdd(np.ones((5, 2)), bins=(2, 3, 4))
    with pytest.raises(ValueError, match=r"one \(min, max\) per dimension"):
        jnp.histogramdd(np.ones((5, 2)), range=[(0, 1)])
    with pytest.raises(ValueError, match="same length"):
        jnp.histogram2d(np.ones(5), np.ones(4))


def test_einsum_path_matches_numpy():
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
    for optimize in ("greedy", "optimal"):
        path, report = jnp.einsum_path("ij,jk,kl->il", a, b, c, optimize=optimize)
        path_np, report_np = np.einsum_path("ij,jk,kl->il", a, b, c, optimize=optimize)
        assert path == path_np and report == report_np
    path, _ = jnp.einsum_path("ij,jk,kl->il", jnp.asarray(a), b, c)
    assert path[0] == "einsum_path" and len(path) == 3


def test_fromfile_is_unimplemented_as_in_jax():
    with pytest.raises(NotImplementedError, match=r"jnp\.asarray\(np\.fromfile"):
        jnp.fromfile("data.bin")


def _add(x, y):
    return x + y


ADD = jnp.frompyfunc(_add, nin=2, nout=1, identity=0)


def test_frompyfunc_call_and_properties():
    x, y = np.arange(6).reshape(2, 3), np.array([10, 20, 30])
    np.testing.assert_array_equal(ADD(x, y), x + y)
    assert (ADD.nin, ADD.nout, ADD.nargs, ADD.identity, ADD.__name__) == (2, 1, 2, 0, "_add")
    assert repr(ADD) == "<jnp.ufunc '_add'>" and isinstance(ADD, jnp.ufunc)
    assert ADD == jnp.frompyfunc(_add, 2, 1, identity=0) and len({ADD, jnp.ufunc(_add, 2, 1,
                                                                                  identity=0)}) == 1
    with pytest.raises(NotImplementedError, match="out argument"):
        ADD(x, y, out=x)


def test_ufunc_methods_match_numpy():
    x = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    mask = x % 3 != 0
    for axis in (0, 1, None):
        np.testing.assert_allclose(ADD.reduce(x, axis=axis), np.add.reduce(x, axis=axis))
    np.testing.assert_allclose(ADD.reduce(x, axis=1, keepdims=True, initial=5.0),
                               np.add.reduce(x, axis=1, keepdims=True, initial=5.0))
    np.testing.assert_allclose(ADD.reduce(x, axis=0, where=mask),
                               np.add.reduce(x, axis=0, where=mask))
    np.testing.assert_allclose(ADD.accumulate(x, axis=1), np.add.accumulate(x, axis=1))
    np.testing.assert_allclose(ADD.outer(np.arange(3), x), np.add.outer(np.arange(3), x))
    want = x.copy()
    np.add.at(want, [0, 2, 0], [[1, 1, 1, 1]] * 3)
    np.testing.assert_allclose(ADD.at(x, np.array([0, 2, 0]), np.ones((3, 4)), inplace=False),
                               want)
    v = np.arange(8.0)
    starts = [0, 4, 1, 5]
    np.testing.assert_allclose(ADD.reduceat(v, np.array(starts)), np.add.reduceat(v, starts))
    np.testing.assert_allclose(ADD.reduceat(x, np.array([0, 2]), axis=1),
                               np.add.reduceat(x, [0, 2], 1))
    np.testing.assert_allclose(ADD.at(v, 3, 2.0, inplace=False), v + (np.arange(8) == 3) * 2)
    np.testing.assert_allclose(spmd.jit(lambda v: ADD.reduce(v))(x), x.sum(0))


def test_ufunc_method_errors():
    unary = jnp.frompyfunc(lambda x: -x, nin=1, nout=1)
    no_identity = jnp.frompyfunc(_add, nin=2, nout=1)
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="reduce only supported for binary ufuncs"):
        unary.reduce(x)
    with pytest.raises(ValueError, match="does not have an identity"):
        no_identity.reduce(x, where=x > 0)
    with pytest.raises(ValueError, match="dtype=bool"):
        ADD.reduce(x, where=x)
    with pytest.raises(ValueError, match="zero-size array"):
        no_identity.reduce(np.ones((0,), np.float32))
    with pytest.raises(ValueError, match="multiple axes"):
        ADD.accumulate(x, axis=None)
    with pytest.raises(NotImplementedError, match="inplace=False"):
        ADD.at(x, 0, 1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        ADD.reduceat(x, np.array([[0]]))
    with pytest.raises(ValueError, match="single integer axis"):
        ADD.reduceat(x, np.array([0]), axis=None)
