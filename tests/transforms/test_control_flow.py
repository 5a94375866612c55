"""Structured control flow (cond, switch, while_loop, fori_loop, scan, map): values against
plain Python/NumPy loops, eagerly and under jit, the staged programs and their lowering, and the
error texts. Gradients are in test_control_flow_grad.py, vmap in test_control_flow_vmap.py."""
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from tests.oracles import assert_close
from tests.transforms.control_flow_cases import CASES, V, XS, XS7
from spmd.transforms import backend, eager, tree_util


def _f32(args):
    return tuple(np.asarray(a, np.float32) if np.issubdtype(np.asarray(a).dtype, np.floating)
                 else a for a in args)


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_values(case, mode):
    args = _f32(case.args)
    fun = case.fun if mode == "eager" else spmd.jit(case.fun)
    expected = case.oracle(*[np.asarray(a, np.float64) if np.issubdtype(np.asarray(a).dtype,
                                                                        np.floating) else a
                             for a in args])
    assert_close(fun(*args), expected, check_dtype=False)


def test_output_types_follow_jax():
    # the carry keeps the init's type; a weak Python-scalar init takes the body's type
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(3, dtype=np.float32))
    assert carry.dtype == np.float32 and not carry.weak_type and ys.shape == (3,)
    assert lax.fori_loop(0, 3, lambda i, x: x + 0.5, 0).dtype == np.float32
    i, x = lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1.0))
    assert (int(i), float(x)) == (5, 32.0) and i.weak_type and x.weak_type
    # branches weak in one branch only give the strong type
    out = lax.cond(True, lambda: 1.0, lambda: np.float32(2.0))
    assert out.dtype == np.float32 and not out.weak_type and float(out) == 1.0


def test_zero_length_scan():
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), V.astype(np.float32),
                         np.zeros((0, 3), np.float32))
    assert_close(carry, V.astype(np.float32))
    assert ys.shape == (0, 3)
    assert float(lax.fori_loop(5, 2, lambda i, x: x + 1.0, 1.0)) == 1.0  # upper <= lower


def test_concrete_predicate_still_stages_both_branches():
    jaxpr = spmd.make_jaxpr(lambda x: lax.cond(True, jnp.sin, jnp.cos, x))(V)
    assert "cond[" in str(jaxpr) and "sin" in str(jaxpr) and "cos" in str(jaxpr)
    with pytest.raises(TypeError, match="identical types"):  # the branch not taken is checked
        lax.cond(True, lambda x: x, lambda x: x[:2], V)


def test_eager_calls_reuse_one_executable():
    x = np.float32(V)
    lax.scan(lambda c, xi: (c * xi + 1.0, None), x, XS.astype(np.float32))
    lax.cond(x.sum() > 0, lambda a: a + 1.0, lambda a: a * 2.0, x)
    before = len(eager._executables)
    for k in range(3):  # fresh lambdas, new closed-over values: the same programs
        lax.scan(lambda c, xi: (c * xi + 1.0, None), x * k, XS.astype(np.float32))
        lax.cond(k > 1, lambda a: a + 1.0, lambda a: a * 2.0, x + k)
    assert len(eager._executables) == before


LOWERED = [
    ("cond", lambda x: lax.cond(x[0] > 0, jnp.sin, jnp.cos, x), (V,)),
    ("switch", lambda i, x: lax.switch(i, [jnp.sin, jnp.cos, jnp.tanh], x), (1, V)),
    ("while", lambda x: lax.while_loop(lambda c: jnp.sum(c) < 9.0, lambda c: c * 2.0, x), (V,)),
    ("scan_unrolled", lambda x: lax.scan(lambda c, y: (c + y, c), x, XS7, unroll=3), (V,)),
    ("scan_reverse", lambda x: lax.scan(lambda c, y: (c * y, c), x, XS, reverse=True), (V,)),
]


@pytest.mark.parametrize("fun,args", [pytest.param(f, a, id=n) for n, f, a in LOWERED])
def test_lowering_verifies(fun, args):
    text = spmd.jit(fun).lower(*_f32(args)).as_text()
    backend.verify(text)
    assert re.search(r'stablehlo\.(case|while)', text)


def test_programs_show_their_sub_programs():
    text = str(spmd.make_jaxpr(lambda x: lax.scan(lambda c, y: (jnp.sin(c) * y, None), x, XS))(V))
    assert "scan[" in text and "sin" in text and "length=4" in text


# ---------------------------------------------------------------- errors
def _carry_changes(c, x):
    return c[:2], None


ERRORS = [
    ("branch_types", lambda: lax.cond(True, lambda x: x, lambda x: x.astype(np.int32), V),
     TypeError, r"true_fun and false_fun output must have identical types, got\n"
                r"f32\[3\]\nand\ni32\[3\]"),
    ("branch_structure", lambda: lax.switch(0, [lambda x: (x, x), lambda x: x], V),
     TypeError, r"branch 0 and 1 outputs must have the same pytree structure"),
    ("scan_carry_type", lambda: lax.scan(_carry_changes, V, XS), TypeError,
     r"scan body function carry input and carry output must have equal types.*"
     r"the input carry component c has type f32\[3\] but the corresponding output carry "
     r"component has type f32\[2\], so the shapes do not match"),
    ("while_carry_type", lambda: lax.while_loop(lambda c: c[0] < 3,
                                                lambda c: (c[0] + 1, c[1].astype(np.int32)),
                                                (0, V)),
     TypeError, r"while_loop body function carry input and carry output must have equal types"
                r".*\[1\] has type f32\[3\].*i32\[3\], so the dtypes do not match"),
    ("carry_structure", lambda: lax.fori_loop(0, 2, lambda i, c: (c, c), V), TypeError,
     r"carry input and carry output must have the same pytree structure"),
    ("cond_fun_type", lambda: lax.while_loop(lambda c: c, lambda c: c + 1.0, V), TypeError,
     r"cond_fun must return a boolean scalar, but got output type\(s\) \['f32\[3\]'\]"),
    ("scan_not_pair", lambda: lax.scan(lambda c, x: c, V, XS), TypeError,
     r"scan body output must be a pair"),
    ("scan_lengths", lambda: lax.scan(lambda c, x: (c, x), V, (XS, XS[:2])), ValueError,
     r"scan got values with different leading axis sizes: 4, 2"),
    ("scan_length_arg", lambda: lax.scan(lambda c, x: (c, x), V, XS, length=3), ValueError,
     r"scan got `length` argument of 3 which disagrees with leading axis sizes \[4\]"),
    ("scan_nothing", lambda: lax.scan(lambda c, x: (c, x), V, None), ValueError,
     r"scan got no values to scan over and `length` not provided"),
    ("scan_scalar_xs", lambda: lax.scan(lambda c, x: (c, x), V, 1.0), ValueError,
     r"scan got value with no leading axis to scan over"),
    ("unroll", lambda: lax.scan(lambda c, x: (c, x), V, XS, unroll=0), ValueError,
     r"`unroll` must be a `bool` or a positive `int`"),
    ("pred_shape", lambda: lax.cond(V > 0, lambda: 1.0, lambda: 2.0), TypeError,
     r"Pred must be a scalar, got .* of shape \(3,\)"),
    ("pred_type", lambda: lax.cond(1j, lambda: 1.0, lambda: 2.0), TypeError,
     r"Pred type must be either boolean or number, got complex64"),
    ("index_type", lambda: lax.switch(1.0, [lambda: 1.0, lambda: 2.0]), TypeError,
     r"Index type must be an integer, got 1.0 as float32"),
    ("no_branches", lambda: lax.switch(0, []), ValueError, r"Empty branch sequence"),
    ("not_callable", lambda: lax.cond(True, 1.0, lambda: 2.0), TypeError,
     r"lax.cond: true_fun and false_fun arguments should be callable"),
    ("fori_unroll_traced", lambda: spmd.jit(
        lambda n: lax.fori_loop(0, n, lambda i, x: x, 1.0, unroll=2))(3), ValueError,
     r"Can only use `unroll` in `fori_loop` if the loop bounds are statically known"),
    ("python_if_in_jit", lambda: spmd.jit(lambda x: x if x > 0 else -x)(1.0),
     TypeError, r"Python bool.*spmd\.lax\.cond"),
    ("traced_length", lambda: spmd.jit(
        lambda n: lax.scan(lambda c, x: (c, x), 0.0, None, length=n))(3), TypeError,
     r"The `length` argument to `scan` expects a concrete `int` value"),
]


@pytest.mark.parametrize("fun,exc,pattern", [pytest.param(f, e, p, id=n)
                                             for n, f, e, p in ERRORS])
def test_errors(fun, exc, pattern):
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        fun()


def test_pytrees_round_trip():
    # output structures come back as given: namedtuples, dicts, None
    from collections import namedtuple
    State = namedtuple("State", "x n")
    out = lax.while_loop(lambda s: s.n < 2, lambda s: State(s.x * 2.0, s.n + 1),
                         State(np.float32(1.0), 0))
    assert isinstance(out, State) and float(out.x) == 4.0 and int(out.n) == 2
    carry, ys = lax.scan(lambda c, x: (c, {"y": x, "none": None}), 0.0, XS.astype(np.float32))
    assert tree_util.tree_structure(ys) == tree_util.tree_structure({"y": 0, "none": None})
