"""Typed PRNG keys through custom_jvp and custom_vjp: as in JAX, a key's tangent in the user's
rule is one float0 array of the key's shape (not a key), and bwd may return None or such an
array as the key's cotangent."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import dtypes


def _scale_by_two():
    """f(keys, x) = 2 x; its jvp rule records the tangents it got."""
    seen = []

    @spmd.custom_jvp
    def f(keys, x):
        return 2.0 * x

    @f.defjvp
    def f_jvp(primals, tangents):
        seen.append(tangents[0])
        return f(*primals), 2.0 * tangents[1]
    return f, seen


@pytest.mark.parametrize("shape", [(), (3,)], ids=["one key", "three keys"])
def test_custom_jvp_rule_gets_a_float0_tangent_for_a_key(shape):
    f, seen = _scale_by_two()
    keys = spmd.random.key(0) if shape == () else spmd.random.split(spmd.random.key(0), 3)
    assert float(spmd.grad(lambda x: f(keys, x))(1.0)) == 2.0
    assert seen[-1].dtype == dtypes.float0 and seen[-1].shape == shape


def test_custom_jvp_rule_under_vmap_gets_one_float0_per_key():
    f, seen = _scale_by_two()
    keys = spmd.random.split(spmd.random.key(0), 3)
    g = spmd.grad(lambda x: jnp.sum(spmd.vmap(f, (0, None))(keys, x)))
    assert float(g(1.0)) == 6.0
    assert seen[-1].dtype == dtypes.float0


def _refresh_with(key_tangent_dtype):
    """(fold_in(key, 1), x^2) whose rule gives the new key a tangent of `key_tangent_dtype`."""
    @spmd.custom_jvp
    def refresh(key, x):
        return spmd.random.fold_in(key, 1), x * x

    @refresh.defjvp
    def refresh_jvp(primals, tangents):
        key, x = primals
        return refresh(key, x), (np.zeros(key.shape, key_tangent_dtype), 2 * x * tangents[1])
    return lambda x: refresh(spmd.random.key(1), x)[1]


def test_custom_jvp_may_return_a_float0_tangent_for_a_key_output():
    assert float(spmd.grad(_refresh_with(dtypes.float0))(3.0)) == 6.0


def test_custom_jvp_refuses_a_wrong_tangent_for_a_key_output():
    with pytest.raises(TypeError, match=r"refresh_jvp gave f32\[\] for a PRNG key array of "
                                        r"shape \(\); its tangent must be float0"):
        spmd.grad(_refresh_with(np.float32))(3.0)


def _custom_vjp_with(key_cotangent):
    @spmd.custom_vjp
    def f(key, x):
        return 2.0 * x

    def fwd(key, x):
        return f(key, x), key.shape

    def bwd(shape, ct):
        return key_cotangent(shape), 2.0 * ct
    f.defvjp(fwd, bwd)
    return f


@pytest.mark.parametrize("key_cotangent", [lambda shape: None,
                                           lambda shape: np.zeros(shape, dtypes.float0)],
                         ids=["None", "float0"])
def test_custom_vjp_bwd_may_give_none_or_float0_for_a_key(key_cotangent):
    f = _custom_vjp_with(key_cotangent)
    assert float(spmd.grad(f, argnums=1)(spmd.random.key(0), 1.5)) == 2.0


def test_custom_vjp_bwd_refuses_a_float_cotangent_for_a_key():
    f = _custom_vjp_with(lambda shape: np.zeros(shape, np.float32))
    with pytest.raises(TypeError, match=r"bwd gave f32\[\] for a PRNG key array of shape \(\); "
                                        r"its cotangent must be float0"):
        spmd.grad(f, argnums=1)(spmd.random.key(0), 1.5)
