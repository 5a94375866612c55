"""JAX's public gradient checker (`jax.test_util`): `check_grads`, `check_jvp`, `check_vjp`.

Derivatives are checked in one random direction per order (so the cost does not grow with the
size of the inputs or outputs): forward mode against central finite differences, reverse mode by
the identity <J t, c> = <t, J^T c> with J t from finite differences; higher orders check the
derivatives of the jvp / vjp functions themselves. Tolerances default, per dtype, to JAX's.
"""
from __future__ import annotations

import functools

import numpy as np

from spmd.transforms import api, dtypes, tree_util
from spmd.transforms.config import config

__all__ = ["check_grads", "check_jvp", "check_vjp"]

EPS = 1e-4

# tolerance of a dtype that differentiation cannot change (and of values compared exactly)
_EXACT = {np.dtype(t): 0 for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32, np.uint64)}
_EXACT[dtypes.float0] = 0

default_gradient_tolerance = {
    dtypes.bfloat16: 1e-1, np.dtype(np.float16): 1e-2, np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5, np.dtype(np.complex64): 1e-3, np.dtype(np.complex128): 1e-5,
}


def _dtype(x) -> np.dtype:
    if hasattr(x, "dtype"):
        return np.dtype(x.dtype)
    if isinstance(x, (bool, int, float, complex)):  # Python scalars: the default (x64) types
        return dtypes.canonicalize({bool: np.bool_, int: np.int64, float: np.float64,
                                    complex: np.complex128}[type(x)])
    return np.asarray(x).dtype


def _is_python_scalar(x) -> bool:
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)


def _merge(tol, default: dict):
    """A user's tolerance (None, a number, or a dict by dtype) over the per-dtype defaults."""
    if tol is None:
        return default
    if not isinstance(tol, dict):
        return tol
    return {**default, **{np.dtype(k): v for k, v in tol.items()}}


def _tolerance(dtype, tol) -> float:
    if not isinstance(tol, dict):
        return tol
    dtype = dtypes.canonicalize(dtype) if dtype != dtypes.float0 else dtype
    return tol.get(dtype, _EXACT.get(dtype, 0))


def _assert_leaf_close(a, b, atol, rtol, err_msg):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{err_msg}: shapes {a.shape} and {b.shape} differ"
    if a.dtype == b.dtype == dtypes.float0:
        return
    atol = max(_tolerance(a.dtype, atol), _tolerance(b.dtype, atol))
    rtol = max(_tolerance(a.dtype, rtol), _tolerance(b.dtype, rtol))
    upcast = (lambda x: x.astype(np.float32)) if dtypes.bfloat16 in (a.dtype, b.dtype) else (
        lambda x: x)
    # as JAX, the tolerances scale with the number of elements compared
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(upcast(a), upcast(b), atol=atol * a.size, rtol=rtol * b.size,
                                   err_msg=err_msg)


def _check_close(xs, ys, atol, rtol, err_msg):
    tree_util.tree_map(functools.partial(_assert_leaf_close, atol=atol, rtol=rtol,
                                         err_msg=err_msg), xs, ys)


def _check_dtypes_match(xs, ys):
    def same(x, y):
        dx, dy = _dtype(x), _dtype(y)
        if not config.enable_x64:
            dx, dy = (d if d == dtypes.float0 else dtypes.canonicalize(d) for d in (dx, dy))
        assert dx == dy, f"dtypes differ: {dx} and {dy}"
    tree_util.tree_map(same, xs, ys)


# ---------------------------------------------------------------- host arithmetic on pytrees
def _keep_type(fn):
    """Leafwise NumPy arithmetic that keeps the first operand's dtype (and Python scalars)."""
    def leaf(*xs):
        out = np.asarray(fn(*xs), dtype=_dtype(xs[0]))
        return out.item() if all(_is_python_scalar(x) for x in xs) else out
    return functools.partial(tree_util.tree_map, leaf)


_add = _keep_type(lambda x, y: np.add(np.asarray(x), np.asarray(y)))
_sub = _keep_type(lambda x, y: np.subtract(np.asarray(x), np.asarray(y)))
_conj = _keep_type(lambda x: np.conj(np.asarray(x)))


def _scale(xs, a):
    def leaf(x):
        out = np.multiply(np.asarray(x), np.array(a, _dtype(x)), dtype=_dtype(x))
        return out.item() if _is_python_scalar(x) else out
    return tree_util.tree_map(leaf, xs)


def _difference(xs, ys):
    """x - y with inf - inf taken as 0 (a derivative at an infinite output is not checked)."""
    def leaf(x, y):
        x, y = np.asarray(x), np.asarray(y)
        with np.errstate(invalid="ignore"):
            return np.where(x == y, np.zeros((), x.dtype), np.subtract(x, y, dtype=x.dtype))
    return tree_util.tree_map(leaf, xs, ys)


def _inner(xs, ys):
    def contract(x, y):
        return np.real(np.dot(np.conj(np.asarray(x)).ravel(), np.asarray(y).ravel()))
    return sum(tree_util.tree_leaves(tree_util.tree_map(contract, xs, ys)), np.float64(0))


def _random_like(rng, x):
    dtype, shape = _dtype(x), np.shape(x)
    draw = rng.randn(*shape)
    if dtypes.is_complex(dtype):
        draw = draw + 1j * rng.randn(*shape)
    out = np.asarray(draw, dtype)
    return out.item() if _is_python_scalar(x) else out


def numerical_jvp(f, primals, tangents, eps=EPS):
    """(f(x + eps t) - f(x - eps t)) / (2 eps)."""
    step = _scale(tangents, eps)
    return _scale(_difference(f(*_add(primals, step)), f(*_sub(primals, step))), 0.5 / eps)


# ---------------------------------------------------------------- the checks
def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    """Check `f_jvp(primals, tangents)` (usually `partial(jvp, f)`) against central finite
    differences of `f` at `args`, in one random direction. Raises AssertionError."""
    atol, rtol = _merge(atol, default_gradient_tolerance), _merge(rtol, default_gradient_tolerance)
    rng = np.random.RandomState(0)  # JAX's directions
    tangent = tree_util.tree_map(functools.partial(_random_like, rng), args)
    v_out, t_out = f_jvp(args, tangent)
    _check_dtypes_match(v_out, t_out)
    v_expected = f(*args)
    _check_dtypes_match(v_out, v_expected)
    _check_close(v_out, v_expected, atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    _check_close(t_out, numerical_jvp(f, args, tangent, eps), atol, rtol,
                f"{err_msg} tangent" if err_msg else "tangent")


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    """Check `f_vjp(*primals) -> (out, vjp_fn)` (usually `partial(vjp, f)`): <J t, c> from
    finite differences must equal <t, J^T c> for random t and c. Raises AssertionError."""
    atol, rtol = _merge(atol, default_gradient_tolerance), _merge(rtol, default_gradient_tolerance)
    rng = np.random.RandomState(0)  # JAX's directions
    v_out, vjp_fn = f_vjp(*args)
    _check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    tangent = tree_util.tree_map(functools.partial(_random_like, rng), args)
    cotangent = tree_util.tree_map(functools.partial(_random_like, rng), v_out)
    tangent_out = numerical_jvp(f, args, tangent, eps)
    cotangent_out = _conj(vjp_fn(_conj(cotangent)))
    _check_close(_inner(tangent, cotangent_out), _inner(tangent_out, cotangent), atol, rtol,
                f"{err_msg} cotangent projection" if err_msg else "cotangent projection")


def _jvp_from_linearize(f, primals, tangents):
    out, f_lin = api.linearize(f, *primals)
    return out, f_lin(*tangents)


def check_grads(f, args, order, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check `f`'s derivatives at `args` up to `order` in the given modes ("fwd": jvp against
    finite differences, "rev": vjp against them, "lin": linearize), as jax.test_util does.
    Use float64 inputs (enable_x64) for tight checks. Raises AssertionError on a mismatch."""
    args, eps = tuple(args), eps or EPS
    unknown = set(modes) - {"fwd", "rev", "lin"}
    if unknown:
        raise ValueError(f"check_grads: unknown modes {sorted(unknown)}; use 'fwd', 'rev' "
                         "and/or 'lin'")

    def check(f, args, order, err_msg=""):
        if "fwd" in modes:
            msg = f"JVP of {err_msg}" if err_msg else "JVP"
            check_jvp(f, functools.partial(api.jvp, f), args, atol, rtol, eps, msg)
            if order > 1:
                check(functools.partial(api.jvp, f), (args, args), order - 1, msg)
        if "rev" in modes:
            msg = f"VJP of {err_msg}" if err_msg else "VJP"
            check_vjp(f, functools.partial(api.vjp, f), args, atol, rtol, eps, msg)
            if order > 1:
                def f_vjp(*xs):
                    out, vjp_fn = api.vjp(f, *xs)
                    return vjp_fn(out)
                check(f_vjp, args, order - 1, msg)
        if "lin" in modes:
            msg = f"LIN of {err_msg}" if err_msg else "LIN"
            check_jvp(f, functools.partial(_jvp_from_linearize, f), args, atol, rtol, eps, msg)
            if order > 1:
                check(functools.partial(_jvp_from_linearize, f), (args, args), order - 1, msg)

    check(f, args, order)
