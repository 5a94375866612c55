"""lax.Precision and `precision=`: JAX's accepted spellings, XLA's precision_config in the
compiled program, the default_matmul_precision context, and unchanged values (the CPU computes
float32 products in float32 at every precision)."""
import re

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax

A = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
B = np.arange(12, dtype=np.float32).reshape(3, 4) / 5


def program(fun, *args):
    return spmd.jit(fun).lower(*args).as_text()


def precisions(text):
    """The dot_general's (lhs, rhs) precisions in a module's text, generic or pretty-printed
    (`precision_config = [#stablehlo<precision HIGH>, ...]` or `precision = [HIGH, ...]`);
    None where it has none."""
    found = re.findall(r"precision(?:_config)? = \[([^\]]*)\]", text)
    if not found:
        return None
    return tuple(p.replace("#stablehlo<precision", "").strip(" >") for p in found[0].split(","))


@pytest.mark.parametrize("spelling, member", [
    ("highest", "HIGHEST"), ("float32", "HIGHEST"), ("high", "HIGH"), ("tensorfloat32", "HIGH"),
    ("bfloat16_3x", "HIGH"), ("default", "DEFAULT"), ("fastest", "DEFAULT"),
    ("bfloat16", "DEFAULT"), (lax.Precision.HIGH, "HIGH"), (2, "HIGHEST")])
def test_precision_accepts_jaxs_spellings(spelling, member):
    assert lax.Precision(spelling) is lax.Precision[member]
    assert str(lax.Precision[member]) == member
    assert repr(lax.Precision[member]) == f"Precision.{member}"


@pytest.mark.parametrize("fun", [
    lambda a, b, p: lax.dot_general(a, b, (((1,), (0,)), ((), ())), precision=p),
    lambda a, b, p: lax.dot(a, b, precision=p),
    lambda a, b, p: jnp.matmul(a, b, precision=p),
    lambda a, b, p: jnp.dot(a, b, precision=p),
    lambda a, b, p: jnp.einsum("ij,jk->ik", a, b, precision=p),
    lambda a, b, p: jnp.tensordot(a, b, 1, precision=p),
    lambda a, b, p: jnp.inner(a, b.T, precision=p),
], ids=["dot_general", "lax.dot", "matmul", "dot", "einsum", "tensordot", "inner"])
def test_precision_reaches_the_compiled_program_and_keeps_the_value(fun):
    expected = A.astype(np.float64) @ B
    for precision, config in [(None, None), ("highest", ("HIGHEST", "HIGHEST")),
                              (("high", lax.Precision.DEFAULT), ("HIGH", "DEFAULT"))]:
        text = program(lambda a, b, p=precision: fun(a, b, p), A, B)
        assert precisions(text) == config
        out = spmd.jit(lambda a, b, p=precision: fun(a, b, p))(A, B)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


def test_precision_follows_grad_and_vmap_with_operands_swapped_in_the_transpose():
    loss = lambda a, b: (lax.dot(a, b, precision=("highest", "high")) ** 2).sum()  # noqa: E731
    jaxpr = str(spmd.make_jaxpr(spmd.grad(loss, argnums=1))(A, B))
    assert "precision=(Precision.HIGH, Precision.HIGHEST)" in jaxpr  # rhs's cotangent: swapped
    grad = spmd.grad(loss, argnums=(0, 1))(A, B)
    out = A.astype(np.float64) @ B
    np.testing.assert_allclose(np.asarray(grad[0]), 2 * out @ B.T, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad[1]), 2 * A.T @ out, rtol=1e-5)
    batched = spmd.vmap(lambda a: lax.dot(a, B, precision="highest"))(A)
    assert "precision=(Precision.HIGHEST" in str(
        spmd.make_jaxpr(spmd.vmap(lambda a: lax.dot(a, B, precision="highest")))(A))
    np.testing.assert_allclose(np.asarray(batched), A.astype(np.float64) @ B, rtol=1e-6)


def test_default_matmul_precision_applies_inside_the_block_only():
    matmul = spmd.jit(lambda a, b: a @ b)
    assert precisions(matmul.lower(A, B).as_text()) is None
    matmul(A, B)  # a traced program now cached: the block must not reuse it
    with spmd.default_matmul_precision("tensorfloat32"):
        assert spmd.config.default_matmul_precision == "tensorfloat32"
        assert precisions(matmul.lower(A, B).as_text()) == ("HIGH", "HIGH")
        assert "precision=(Precision.HIGH, Precision.HIGH)" in str(
            spmd.make_jaxpr(lambda a, b: a @ b)(A, B))
        assert precisions(program(lambda a, b: lax.dot(a, b, precision="highest"), A, B)) == (
            "HIGHEST", "HIGHEST")
    assert spmd.config.default_matmul_precision is None
    assert precisions(matmul.lower(A, B).as_text()) is None


def test_bad_precisions_say_what_is_accepted():
    with pytest.raises(ValueError, match=r"precision must be None, a lax.Precision, one of the "
                                         r"names \['bfloat16', .*got 'medium'"):
        jnp.matmul(A, B, precision="medium")
    with pytest.raises(ValueError, match="got 3"):
        lax.dot(A, B, precision=("highest", 3))
    with pytest.raises(ValueError, match="got 'medium'"):
        spmd.config.update("jax_default_matmul_precision", "medium")
    assert spmd.config.default_matmul_precision is None
