"""Indexing `x[idx]` and updates `x.at[idx].op(v)` against NumPy's indexing, np.add.at and
friends; JAX's out-of-bounds rules; gather/scatter (the lax primitives) against NumPy, with
gradients (finite differences) and vmap (the loop); and the indexing errors."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from tests.oracles import assert_close, check_grads, check_mapped
from spmd.transforms import lax

SHAPE = (3, 4, 5)
X = np.arange(60, dtype=np.float32).reshape(SHAPE) / 7


def a(*values):
    return np.array(values, np.int32)


# Index expressions on an array of SHAPE, all in bounds (NumPy is the oracle); each one's
# integer arrays also go through jit as traced arguments.
INDICES = {
    "int": (1,),
    "negative int": (-1, 2),
    "slice": (slice(1, 3),),
    "slice with step": (slice(None), slice(3, 0, -2)),
    "reversed": (slice(None, None, -1), 0, slice(None, None, -3)),
    "ellipsis": (Ellipsis, 2),
    "newaxis": (None, 1, None, slice(1, 3)),
    "empty slice": (slice(2, 1),),
    "array": (a(2, 0, 2),),
    "negative array": (slice(None), a(-1, -4)),
    "2-d array": (np.array([[0, 1], [2, 0]], np.int32),),
    "adjacent arrays": (slice(None), a(0, 3), a(4, 1)),
    "separated arrays": (a(0, 2), slice(None), a(4, 1)),
    "int and array apart": (0, slice(None), a(1, 2, 3)),
    "int and array together": (slice(None), 2, a(1, 4)),
    "broadcast arrays": (np.array([[0], [2]], np.int32), slice(1, 4), a(0, 3, 4)),
    "array and step": (a(2, 1), slice(None, None, 2)),
    "array and newaxis": (a(1, 1), None, Ellipsis, a(0, 2)),
    "bool mask": (X[:, :, 0] > 2,),
    "bool mask on an axis": (slice(None), np.array([True, False, True, True])),
    "scalar True": (True, 0),
    "0-d array": (np.int32(2),),
}


@pytest.mark.parametrize("idx", INDICES.values(), ids=INDICES.keys())
def test_getitem_matches_numpy(idx):
    want = X[idx]
    assert_close(jnp.asarray(X)[idx], want)
    arrays = [i for i, e in enumerate(idx) if isinstance(e, np.ndarray) and e.dtype != bool]

    def f(x, *traced):
        full = list(idx)
        for i, t in zip(arrays, traced):
            full[i] = t
        return x[tuple(full)]
    assert_close(spmd.jit(f)(X, *[idx[i] for i in arrays]), want)


def test_out_of_bounds_reads_clamp_or_fill():
    x = jnp.asarray(X)
    assert_close(x[7], X[2])  # ints clamp, as in JAX
    assert_close(x[-9, 0], X[0, 0])
    assert_close(x[:, a(5, -1, 9)], X[:, [3, 3, 3]])
    assert_close(spmd.jit(lambda x, i: x[i])(X, np.int32(11)), X[2])
    filled = x.at[a(0, 5)].get(mode="fill", fill_value=-1.0)
    assert_close(filled, np.stack([X[0], np.full(SHAPE[1:], -1.0, np.float32)]))
    assert np.isnan(np.asarray(jnp.take(X, a(1, 80)))[1])  # take fills with NaN by default
    assert_close(jnp.take(X, a(1, 80), mode="clip"), X.reshape(-1)[[1, 59]])
    assert_close(jnp.take(X[0, 0], a(-1, 6), mode="wrap"), X[0, 0, [4, 1]])


# .at updates: (name, the update, NumPy's equivalent on a copy, values' shape)
UPDATES = {
    "set": (lambda r, v: r.set(v), lambda x, i, v: x.__setitem__(i, v)),
    "add": (lambda r, v: r.add(v), np.add.at),
    "subtract": (lambda r, v: r.subtract(v), np.subtract.at),
    "multiply": (lambda r, v: r.multiply(v), np.multiply.at),
    "divide": (lambda r, v: r.divide(v), np.divide.at),
    "min": (lambda r, v: r.min(v), np.minimum.at),
    "max": (lambda r, v: r.max(v), np.maximum.at),
}
UPDATE_INDICES = ["int", "slice with step", "reversed", "newaxis", "array", "separated arrays",
                  "broadcast arrays", "bool mask", "array and newaxis"]
FEW_INDICES = ["reversed", "separated arrays", "bool mask"]  # for the other combiners


@pytest.mark.parametrize("kind, name", [(k, n) for k in UPDATES for n in (
    UPDATE_INDICES if k in ("set", "add") else FEW_INDICES)])
def test_at_updates_match_numpy(kind, name):
    idx = INDICES[name]
    update, np_update = UPDATES[kind]
    values = np.random.default_rng(0).uniform(0.5, 2.0, X[idx].shape).astype(np.float32)
    want = X.copy()
    np_update(want, idx, values)
    assert_close(update(jnp.asarray(X).at[idx], values), want)
    assert_close(spmd.jit(lambda x, v: update(x.at[idx], v))(X, values), want)


def test_at_accumulates_repeated_indices_and_broadcasts_values():
    idx = (slice(None), a(1, 1, 3, 1))
    want = X.copy()
    np.add.at(want, idx, 2.0)
    assert_close(jnp.asarray(X).at[idx].add(2.0), want)
    want = X.copy()
    np.multiply.at(want, idx, np.array([1.0, 2.0, 3.0, 0.5], np.float32)[:, None])
    assert_close(jnp.asarray(X).at[idx].mul(np.array([1.0, 2.0, 3.0, 0.5], np.float32)[:, None]),
                 want)


def test_out_of_bounds_updates_are_dropped_or_clipped():
    x = jnp.asarray(X[0])
    want = X[0].copy()
    want[1] = 5.0
    assert_close(x.at[a(1, 4, -7)].set(5.0), want)  # rows 4 and -7 do not exist: dropped
    assert_close(x.at[9].add(1.0), X[0])
    clipped = X[0].copy()
    clipped[3] += 1.0
    assert_close(x.at[9].add(1.0, mode="clip"), clipped)
    assert_close(spmd.jit(lambda x, i: x.at[i].set(0.0))(X[0], np.int32(-1)),
                 np.concatenate([X[0, :3], np.zeros((1, 5), np.float32)]))


def test_update_casts_values_to_the_array_dtype():
    x = jnp.arange(5)
    out = x.at[1].set(2.7)
    assert out.dtype == np.int32 and int(out[1]) == 2
    assert jnp.ones(3, jnp.float16).at[0].add(1.0).dtype == np.float16


# ---------------------------------------------------------------- gradients and vmap
GRAD_INDICES = ["int", "slice with step", "reversed", "separated arrays", "broadcast arrays",
                "bool mask", "array and newaxis"]


@pytest.mark.parametrize("name", GRAD_INDICES)
def test_getitem_gradients(name, x64):
    check_grads(lambda x: x[INDICES[name]] ** 2, (X.astype(np.float64),))


@pytest.mark.parametrize("kind", ["set", "add", "multiply", "min", "max"])
def test_at_update_gradients(kind, x64):
    idx = (slice(None), a(3, 0, 2))  # unique positions: every update's derivative is defined
    x = X.astype(np.float64)
    values = np.random.default_rng(1).uniform(0.0, 9.0, x[idx].shape)
    update = UPDATES[kind][0]
    if kind == "multiply":  # as in JAX, only defined when the indices are promised unique
        update = lambda r, v: r.multiply(v, unique_indices=True)  # noqa: E731
    check_grads(lambda x, v: update(jnp.asarray(x).at[idx], v), (x, values))


def test_gradient_of_set_with_repeated_indices(x64):
    """Where two updates hit one element, one of them wins; the derivative follows the winner
    (the JVP scatters update ids to find it), so it matches finite differences."""
    idx = (a(1, 1, 2),)
    x = X.astype(np.float64)
    values = np.random.default_rng(2).standard_normal(x[idx].shape)
    check_grads(lambda x, v: jnp.asarray(x).at[idx].set(v), (x, values))
    check_grads(lambda x, v: jnp.asarray(x).at[idx].add(v), (x, values))
    check_grads(lambda x, v: jnp.asarray(x).at[idx].max(v), (x, values * 10))


MAP_CASES = {  # (function of (x, i, v), which of x, i, v are batched)
    "getitem, batched x": (lambda x, i, v: x[:, i], (0, None, None)),
    "getitem, batched index": (lambda x, i, v: x[i, ::2], (None, 0, None)),
    "getitem, both batched": (lambda x, i, v: x[1:, i], (1, 0, None)),
    "getitem, traced int": (lambda x, i, v: x[i[0]], (0, 0, None)),
    "set, batched x": (lambda x, i, v: x.at[:, i].set(v[0, :2]), (0, None, None)),
    "add, batched values": (lambda x, i, v: x.at[i].add(v), (None, None, 0)),
    "add, batched index": (lambda x, i, v: x.at[i, 1:3].add(v[:, :2]), (None, 0, None)),
    "max, all batched": (lambda x, i, v: x.at[i].max(v), (0, 0, 0)),
    "multiply, index and values": (lambda x, i, v: x.at[i].multiply(v), (None, 0, 2)),
}


@pytest.mark.parametrize("name", MAP_CASES)
def test_vmap_matches_loop(name):
    fn, axes = MAP_CASES[name]
    rng = np.random.default_rng(3)
    x, i = X, a(2, 0)
    v = rng.standard_normal((2,) + SHAPE[1:]).astype(np.float32)
    args = []
    for arr, ax, make in [(x, axes[0], lambda k: x + k), (i, axes[1], lambda k: (i + k) % 3),
                          (v, axes[2], lambda k: v * (k + 1))]:
        args.append(arr if ax is None else np.stack([make(k) for k in range(4)], axis=ax))
    as_arrays = lambda x, i, v: fn(jnp.asarray(x), i, v)  # noqa: E731  (the loop gets NumPy)
    check_mapped(spmd.vmap(as_arrays, axes), as_arrays, args, in_axes=axes)


def test_grad_of_vmapped_gather_and_scatter(x64):
    x = X.astype(np.float64)
    idx = np.array([[0, 2], [1, 1], [2, 0]], np.int32)

    def f(x):
        rows = spmd.vmap(lambda xi, ii: xi[ii])(x, idx)  # batched operand and indices
        return spmd.vmap(lambda xi, ii, r: xi.at[ii].add(r))(jnp.asarray(x), idx, rows * rows)
    check_grads(f, (x,))


# ---------------------------------------------------------------- lax.gather / scatter
G = lax.GatherDimensionNumbers
S = lax.ScatterDimensionNumbers


def test_lax_gather_with_batching_dims():
    """take_along_axis's gather: each row of x gathers with its own indices."""
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    idx = np.array([[3, 0], [1, 1], [2, 3]], np.int32)[..., None]
    dn = G(offset_dims=(), collapsed_slice_dims=(1,), start_index_map=(1,),
           operand_batching_dims=(0,), start_indices_batching_dims=(0,))
    assert_close(lax.gather(x, idx, dn, (1, 1)), np.take_along_axis(x, idx[..., 0], 1))


def test_lax_scatter_with_batching_dims(x64):
    x = np.zeros((3, 4))
    idx = np.array([[3, 3], [0, 1], [2, 2]], np.int32)[..., None]
    upd = np.arange(6.0).reshape(3, 2)
    dn = S(update_window_dims=(), inserted_window_dims=(1,), scatter_dims_to_operand_dims=(1,),
           operand_batching_dims=(0,), scatter_indices_batching_dims=(0,))
    want = x.copy()
    for r in range(3):
        np.add.at(want[r], idx[r, :, 0], upd[r])
    assert_close(lax.scatter_add(x, idx, upd, dn), want)
    check_grads(lambda x, u: lax.scatter_add(x, idx, u, dn), (x, upd))
    check_grads(lambda x: lax.gather(x, idx, G((), (1,), (1,), (0,), (0,)), (1, 1)), (x,))


def test_lax_gather_modes_and_windows():
    x = np.arange(20.0, dtype=np.float32).reshape(4, 5)
    dn = G(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0, 1))
    idx = np.array([[1, 1], [3, 4], [-1, 0]], np.int32)
    clamped = [x[1, 1:4], x[3, 2:5], x[0, 0:3]]
    assert_close(lax.gather(x, idx, dn, (1, 3)), np.stack(clamped))
    filled = lax.gather(x, idx, dn, (1, 3), mode="fill", fill_value=0.0)
    assert_close(filled, np.stack([x[1, 1:4], np.zeros(3), np.zeros(3)]).astype(np.float32))


# ---------------------------------------------------------------- errors
def test_indexing_errors():
    x = jnp.asarray(X)
    with pytest.raises(IndexError, match="boolean indices must be concrete.*spmd.numpy.where"):
        spmd.jit(lambda x: x[x > 1])(X)
    with pytest.raises(TypeError, match="Indexer must have integer or boolean type, got indexer "
                                        "with type float32 at position 0"):
        x[np.array([1.0], np.float32)]
    with pytest.raises(IndexError, match="Too many indices: 3-dimensional array indexed with 4"):
        x[0, 0, 0, 0]
    with pytest.raises(TypeError, match="non-tuple sequence for multidimensional indexing"):
        x[[0, 1]]
    with pytest.raises(IndexError, match="slice indices must have static start/stop/step"):
        spmd.jit(lambda x, i: x[i:i + 2])(X, 1)
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes \(2,\) "
                                         r"\(3,\)"):
        x[a(0, 1), a(0, 1, 2)]
    with pytest.raises(IndexError, match=r"boolean index did not match .* got \(3,\), expected "
                                         r"\(4,\)"):
        x[:, np.array([True, False, True])]
    with pytest.raises(ValueError, match=r"value array of shape \(3,\) could not be broadcast "
                                         r"to indexing result of shape \(4, 5\)"):
        x.at[0].set(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"immutable and do not support in-place item assignment\. "
                                        r"Instead of x\[idx\] = y, use x = x\.at\[idx\]\.set\(y\)"):
        x[0] = 1.0
    with pytest.raises(ValueError, match="unknown gather/scatter mode 'wrap'"):
        x.at[0].get(mode="wrap")


def test_pmap_of_indexing_matches_one_device():
    """Each device gathers and scatters its own shard as the single-device program would."""
    n = 4
    xs = np.random.default_rng(4).standard_normal((n, 5, 3)).astype(np.float32)
    idx = np.array([[4, 0], [1, 1], [2, 3], [0, 4]], np.int32)

    def f(x, i):
        return x.at[i].add(x[i[::-1]] * 2.0)[:, ::-1]
    got = spmd.pmap(f)(xs, idx)
    assert_close(got, np.stack([np.asarray(f(jnp.asarray(x), i)) for x, i in zip(xs, idx)]))
