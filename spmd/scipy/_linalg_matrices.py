"""The special matrices of jax.scipy.linalg: built from a vector (toeplitz, hankel, circulant,
leslie, companion, fiedler, fiedler_companion, convolution_matrix, block_diag; batched over
leading axes) or from a size alone (hilbert, invhilbert, pascal, invpascal, helmert, hadamard,
dft: exact in NumPy, then one transfer)."""
from __future__ import annotations

import math
import operator

import numpy as np

import spmd.numpy as jnp
from spmd import dtypes
from spmd.numpy._core import check_array_like, promote_joined, promote_to_inexact
from spmd.transforms.api import vmap


def _default_float():
    return dtypes.canonicalize_dtype(float)


def _batched(fn, *vectors):
    """fn of 1-d vectors, mapped over the vectors' broadcast leading axes."""
    lead = np.broadcast_shapes(*(v.shape[:-1] for v in vectors))
    if not lead:
        return fn(*vectors)
    flat = [jnp.broadcast_to(v, lead + v.shape[-1:]).reshape((-1, v.shape[-1]))
            for v in vectors]
    out = vmap(fn)(*flat)
    return out.reshape(lead + out.shape[1:])


def _toeplitz_2d(c, r):
    # entry (i, j) is c[i - j] below the diagonal, r[j - i] on and above it
    i, j = np.ogrid[:c.shape[0], :r.shape[0]]
    return jnp.where(i >= j, c[np.maximum(i - j, 0)], r[np.maximum(j - i, 0)])


def toeplitz(c, r=None):
    """The matrix constant along its diagonals: first column c, first row r (default conj(c));
    r[0] is ignored."""
    check_array_like("toeplitz", c, *(() if r is None else (r,)))
    c = jnp.atleast_1d(jnp.asarray(c))
    r = jnp.conjugate(c) if r is None else jnp.atleast_1d(jnp.asarray(r))
    c, r = promote_joined("toeplitz", [c, r])
    return _batched(_toeplitz_2d, c, r)


def _hankel_2d(c, r):
    # entry (i, j) is element i + j of c followed by r[1:]
    joined = jnp.concatenate([c, r[1:]])
    i, j = np.ogrid[:c.shape[0], :r.shape[0]]
    return joined[i + j]


def hankel(c, r=None):
    """The matrix constant along its anti-diagonals: first column c, last row r (default
    zeros); r[0] is ignored."""
    check_array_like("hankel", c, *(() if r is None else (r,)))
    c = jnp.asarray(c)
    r = jnp.zeros_like(c) if r is None else jnp.asarray(r)
    for name, v in (("c", c), ("r", r)):
        if v.ndim == 0:
            raise ValueError(f"hankel: {name} must be at least 1-dimensional, got a scalar.")
    c, r = promote_joined("hankel", [c, r])
    return _batched(_hankel_2d, c, r)


def circulant(c):
    """Each column the previous one rotated down by one: entry (i, j) is c[(i - j) mod n]."""
    check_array_like("circulant", c)
    c = jnp.atleast_1d(jnp.asarray(c))
    n = c.shape[-1]
    return c[..., (np.arange(n)[:, None] - np.arange(n)[None, :]) % n]


def _leslie_2d(f, s):
    return jnp.diag(s, k=-1).at[0].set(f)


def leslie(f, s):
    """The Leslie matrix: fecundities f on the first row, survival rates s below the diagonal."""
    check_array_like("leslie", f, s)
    f, s = jnp.atleast_1d(jnp.asarray(f)), jnp.atleast_1d(jnp.asarray(s))
    if f.shape[-1] < 2:
        raise ValueError(f"The length of f along the last axis must be at least 2; got shape "
                         f"{f.shape}.")
    if s.shape[-1] != f.shape[-1] - 1:
        raise ValueError("Incorrect lengths for f and s. The length of s along the last axis "
                         f"must be one less than the length of f; got f shape {f.shape} and "
                         f"s shape {s.shape}.")
    f, s = promote_joined("leslie", [f, s])
    return _batched(_leslie_2d, f, s)


def _companion_2d(a):
    m = a.shape[0] - 1
    return jnp.eye(m, m, k=-1, dtype=a.dtype).at[0].set(-a[1:] / a[0])


def companion(a):
    """The companion matrix of the polynomial with coefficients a (highest power first): its
    eigenvalues are the roots."""
    a, = promote_to_inexact("companion", a)
    a = jnp.atleast_1d(a)
    if a.shape[-1] < 2:
        raise ValueError(f"The length of `a` along the last axis must be at least 2; got shape "
                         f"{a.shape}.")
    return _batched(_companion_2d, a)


def fiedler(a):
    """|a_i - a_j|."""
    check_array_like("fiedler", a)
    a = jnp.atleast_1d(jnp.asarray(a))
    return jnp.abs(a[..., :, None] - a[..., None, :])


def _fiedler_companion_2d(a):
    n = a.shape[0] - 1
    if n == 0:
        return jnp.zeros((0, 0), a.dtype)
    a = a / a[0]
    if n == 1:
        return -a[1:].reshape(1, 1)
    # Fiedler's pentadiagonal form: -a_1 at (0, 0) and 1 at (1, 0); even rows i carry -a_{i+2}
    # at (i, i + 1), 1 at (i, i + 2) and -a_{i+1} at (i, i - 1); odd rows i >= 3 carry 1 at
    # (i, i - 2)
    i, j = np.ogrid[:n, :n]
    even, odd = i % 2 == 0, i % 2 == 1
    conditions = [(i == 0) & (j == 0), (i == 1) & (j == 0), (j == i + 1) & even,
                  (j == i + 2) & even, (j == i - 1) & even & (i >= 2),
                  (j == i - 2) & odd & (i >= 3)]
    one = jnp.ones((), a.dtype)
    choices = [-a[1], one, -a[np.minimum(i + 2, n)], one, -a[np.minimum(i + 1, n)], one]
    return jnp.select([jnp.asarray(np.broadcast_to(c, (n, n))) for c in conditions],
                      [jnp.broadcast_to(c, (n, n)) for c in choices], jnp.zeros((), a.dtype))


def fiedler_companion(a):
    """Fiedler's pentadiagonal companion matrix of the polynomial a (same eigenvalues as
    companion(a))."""
    a, = promote_to_inexact("fiedler_companion", a)
    a = jnp.atleast_1d(a)
    if a.shape[-1] == 0:
        raise ValueError("fiedler_companion requires the last axis of 'a' to have nonzero "
                         f"length, but got an array of shape {a.shape}.")
    return _batched(_fiedler_companion_2d, a)


def convolution_matrix(a, n, mode="full"):
    """The matrix A with A @ v == numpy.convolve(a, v, mode) for every v of length n."""
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"n must be a positive integer; got {n}.")
    check_array_like("convolution_matrix", a)
    a = jnp.asarray(a)
    if a.ndim == 0:
        raise ValueError("convolution_matrix: a must be at least 1-dimensional, got a scalar.")
    m = a.shape[-1]
    if m < 1:
        raise ValueError(f"len(a) must be at least 1; got shape {a.shape}.")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"mode must be one of 'full', 'valid', 'same'; got {mode!r}.")
    full = m + n - 1
    trim = {"full": (0, 0), "valid": (min(n, m) - 1,) * 2,
            "same": ((min(n, m) - 1) // 2, min(n, m) - 1 - (min(n, m) - 1) // 2)}[mode]
    rows = np.arange(trim[0], full - trim[1])[:, None]
    k = rows - np.arange(n)[None, :]  # entry (i, j) of the full matrix is a[i - j]
    inside = (k >= 0) & (k < m)
    return jnp.where(inside, a[..., np.clip(k, 0, m - 1)], jnp.zeros((), a.dtype))


def block_diag(*arrs):
    """The arguments (scalars, vectors as rows, matrices) as blocks along the diagonal."""
    if not arrs:
        arrs = (jnp.zeros((1, 0)),)
    arrs = promote_joined("block_diag", arrs)
    for i, a in enumerate(arrs):
        if a.ndim > 2:
            raise ValueError("Arguments to spmd.scipy.linalg.block_diag must have at most 2 "
                             f"dimensions, got {a} at argument {i}.")
    blocks = [jnp.atleast_2d(a) for a in arrs]
    total = sum(b.shape[1] for b in blocks)
    rows, start = [], 0
    for b in blocks:
        rows.append(jnp.pad(b, ((0, 0), (start, total - start - b.shape[1]))))
        start += b.shape[1]
    return jnp.concatenate(rows, axis=0)


def hilbert(n):
    """1 / (i + j + 1)."""
    i = np.arange(n, dtype=np.float64)
    return jnp.asarray(1 / (i[:, None] + i[None, :] + 1), _default_float())


def invhilbert(n):
    """The exact inverse of hilbert(n), from its closed form in binomial coefficients."""
    entry = [[(-1) ** (i + j) * (i + j + 1) * math.comb(n + i, n - j - 1)
              * math.comb(n + j, n - i - 1) * math.comb(i + j, i) ** 2
              for j in range(n)] for i in range(n)]
    return jnp.asarray(np.array(entry, dtype=np.float64).reshape(n, n), _default_float())


_PASCAL_KINDS = ["symmetric", "lower", "upper"]


def _pascal_lower(n, inverse):
    return np.array([[(-1) ** ((i - j) % 2) * math.comb(i, j) if inverse else math.comb(i, j)
                      for j in range(n)] for i in range(n)], dtype=np.float64).reshape(n, n)


def pascal(n, kind=None):
    """Binomial coefficients: lower C(i, j), upper its transpose, symmetric C(i + j, i)."""
    kind = "symmetric" if kind is None else kind
    if kind not in _PASCAL_KINDS:
        raise ValueError(f"Expected kind to be on of: {_PASCAL_KINDS}; got {kind}")
    low = _pascal_lower(n, inverse=False)
    out = {"lower": low, "upper": low.T, "symmetric": low @ low.T}[kind]
    return jnp.asarray(out, np.float32)  # (JAX builds it in float32 whatever x64 says)


def invpascal(n, kind=None):
    """The exact inverse of pascal(n, kind)."""
    kind = "symmetric" if kind is None else kind
    if kind not in _PASCAL_KINDS:
        raise ValueError(f"Expected kind to be one of: {_PASCAL_KINDS}; got {kind}")
    low = _pascal_lower(n, inverse=True)
    out = {"lower": low, "upper": low.T, "symmetric": low.T @ low}[kind]
    return jnp.asarray(out, _default_float())


def helmert(n, full=False):
    """The Helmert matrix: rows orthonormal and orthogonal to the ones vector (full: with
    ones / sqrt(n) as its first row)."""
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}.")
    h = np.zeros((n - 1, n))
    for k in range(1, n):
        h[k - 1, :k] = 1 / math.sqrt(k * (k + 1))
        h[k - 1, k] = -k / math.sqrt(k * (k + 1))
    if full:
        h = np.concatenate([np.full((1, n), 1 / math.sqrt(n)), h])
    return jnp.asarray(h, _default_float())


def hadamard(n, dtype=int):
    """Sylvester's Hadamard matrix of order n (a power of 2): entries +-1, orthogonal rows."""
    if n < 1 or not math.log2(n).is_integer():
        raise ValueError(f"n must be a positive power of 2; got {n}.")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return jnp.asarray(h, dtypes.canonicalize_dtype(dtype))


def dft(n, scale=None, *, dtype=None):
    """The discrete Fourier transform matrix e^(-2 pi i jk / n), scaled by 1/sqrt(n) ("sqrtn")
    or 1/n ("n")."""
    if scale is not None and scale not in ("sqrtn", "n"):
        raise ValueError(f"scale must be None, 'sqrtn', or 'n'; got {scale!r}.")
    if dtype is None:
        dtype = dtypes.canonicalize_dtype(complex)
    else:
        dtype = dtypes.canonicalize_dtype(dtype)
        if not dtypes.issubdtype(dtype, np.complexfloating):
            raise ValueError(f"dtype must be a complex floating-point type; got {dtype}.")
    k = np.arange(n)
    # the exponent taken mod n keeps the angle small, so every entry is exact to rounding
    w = np.exp(-2j * np.pi * ((k[:, None] * k[None, :]) % max(n, 1)) / max(n, 1))
    w = w / {None: 1, "sqrtn": math.sqrt(n), "n": n}[scale]
    return jnp.asarray(w, dtype)
