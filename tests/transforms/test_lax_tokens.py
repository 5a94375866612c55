"""lax.create_token / lax.after_all (+ their primitives): tokens are values of their own
abstract type that pass through jit as arguments and results, and after_all takes only them."""
import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms.lax.tokens import abstract_token


def _step(token, x):
    return lax.after_all(token, lax.create_token()), x * 2.0


def test_tokens_pass_through_jit_and_keep_their_type():
    token = lax.create_token()
    assert token.aval is abstract_token and lax.create_token(object()).aval is abstract_token
    out_token, y = spmd.jit(_step)(token, np.float32(1.5))
    assert out_token.aval is abstract_token
    np.testing.assert_allclose(y, 3.0)
    again, _ = spmd.jit(_step)(out_token, np.float32(2.0))  # a jit's token feeds the next call
    assert again.aval is abstract_token
    assert lax.after_all(again, token).aval is abstract_token
    text = str(spmd.make_jaxpr(_step)(token, 1.0))
    assert "a:Token" in text and "create_token" in text and "after_all a" in text
    assert lax.after_all_p.name == "after_all" and lax.create_token_p.name == "create_token"


def test_tokens_ride_along_grad_and_vmap_unmapped():
    token = lax.create_token()
    assert spmd.grad(lambda x, t: _step(t, x)[1])(1.0, token) == 2.0
    np.testing.assert_allclose(spmd.vmap(lambda x: _step(token, x)[1])(np.arange(3.0)),
                               [0.0, 2.0, 4.0])


@pytest.mark.parametrize("transform", [lambda f: f, spmd.jit])
def test_after_all_takes_only_tokens(transform):
    # a bool[0] array looks like a token to the backend but is not one
    spmd.jit(lax.after_all)(lax.create_token())
    with pytest.raises(TypeError, match=r"Arguments to after_all must be tokens, got "
                                        r"\['bool\[0\]'\]: make them with lax.create_token"):
        transform(lax.after_all)(np.zeros(0, bool))
