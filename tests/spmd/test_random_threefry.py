"""Threefry-2x32 (20 rounds): the Random123 known-answer vectors, and agreement with an
independent NumPy implementation of the algorithm (Salmon et al., SC'11) on many inputs,
eagerly, under jit and under vmap; shape and dtype errors."""
import numpy as np
import pytest

import spmd
from oracles import check_mapped
from spmd.random.threefry import threefry2x32, threefry2x32_p

# Random123's kat_vectors for threefry2x32_20 (also JAX's testThreefry2x32):
# (key, counter) -> output, the words as (first, second).
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0)),
]


def reference_threefry(key, counter):
    """Threefry-2x32-20 in NumPy, written from the spec: 20 rounds of (mix, rotate), with a key
    injection after every fourth round: injection s adds ks[s % 3] and ks[(s + 1) % 3] + s."""
    mask = np.uint64(0xFFFFFFFF)
    k0, k1 = (np.asarray(k, np.uint64) for k in key)
    ks = [k0, k1, k0 ^ k1 ^ np.uint64(0x1BD11BDA)]
    x0, x1 = (np.asarray(c, np.uint64) for c in counter)
    x0, x1 = (x0 + ks[0]) & mask, (x1 + ks[1]) & mask
    rotations = [13, 15, 26, 6, 17, 29, 16, 24]
    for r in range(20):
        rot = np.uint64(rotations[r % 8])
        x0 = (x0 + x1) & mask
        x1 = ((x1 << rot) | (x1 >> (np.uint64(32) - rot))) & mask
        x1 = x1 ^ x0
        if r % 4 == 3:
            s = r // 4 + 1
            x0 = (x0 + ks[s % 3]) & mask
            x1 = (x1 + ks[(s + 1) % 3] + np.uint64(s)) & mask
    return x0.astype(np.uint32), x1.astype(np.uint32)


def _words(*values):
    return [np.array(v, np.uint32) for v in values]


@pytest.mark.parametrize("key,counter,expected", KAT)
@pytest.mark.parametrize("compiled", [False, True])
def test_known_answers(key, counter, expected, compiled):
    f = spmd.jit(threefry2x32) if compiled else threefry2x32
    out = f(*_words(*key), *_words(*counter))
    assert tuple(int(np.asarray(o)) for o in out) == expected
    assert tuple(int(o) for o in reference_threefry(key, counter)) == expected


def _random_words(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2 ** 32, size=(4,) + shape, dtype=np.uint64).astype(np.uint32)


@pytest.mark.parametrize("shape", [(), (7,), (3, 5)])
def test_matches_reference(shape):
    k0, k1, x0, x1 = _random_words(shape, seed=len(shape))
    expected = reference_threefry((k0, k1), (x0, x1))
    for f in (threefry2x32, spmd.jit(threefry2x32)):
        out = f(k0, k1, x0, x1)
        for o, e in zip(out, expected):
            np.testing.assert_array_equal(np.asarray(o), e)


def test_scalar_key_broadcasts_over_counters():
    k0, k1, x0, x1 = _random_words((6,), seed=5)
    out = threefry2x32(k0[0], k1[0], x0, x1)
    expected = reference_threefry((np.full(6, k0[0]), np.full(6, k1[0])), (x0, x1))
    for o, e in zip(out, expected):
        np.testing.assert_array_equal(np.asarray(o), e)


@pytest.mark.parametrize("in_axes", [(0, 0, 0, 0), (0, 0, None, None), (None, None, 1, 1),
                                     (0, None, None, 0)])
def test_vmap_equals_loop(in_axes):
    words = _random_words((4, 4), seed=7)
    args = [w if a is not None else w[0] for w, a in zip(words, in_axes)]
    args = [np.moveaxis(a, 0, ax) if ax else a for a, ax in zip(args, in_axes)]
    f = lambda *xs: list(threefry2x32_p.bind(*xs))  # noqa: E731
    check_mapped(spmd.vmap(f, in_axes=in_axes), f, args, in_axes=in_axes)


@pytest.mark.parametrize("args,match", [
    ((np.zeros(3, np.int32),) * 4, "takes uint32 keys and counters, got int32"),
    ((np.zeros(3, np.uint32),) * 3 + (np.zeros(4, np.uint32),), r"of one shape.*\(3,\).*\(4,\)"),
])
def test_errors(args, match):
    with pytest.raises(TypeError, match=match):
        threefry2x32_p.bind(*args)
