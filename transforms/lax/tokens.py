"""lax.create_token and lax.after_all (+ create_token_p, after_all_p): XLA's ordering tokens as
values, as in JAX. A token holds no data. Like JAX at a program's boundary, spmd carries it as
a bool[0] buffer, so a token passes through jit (as argument and result) like any array; its
abstract value, `abstract_token`, is its own type, so after_all can tell a token from a bool[0]
array and caches never confuse the two. No spmd operation consumes a token (no infeed, outfeed
or send/recv), so there is nothing for one to order: both primitives lower to the empty
constant."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive, ShapedArray
from spmd.transforms.jvp import Zero, jvp_rules
from spmd.transforms.lowering import lowering_rules


class AbstractToken(ShapedArray):
    """The abstract value of a token (JAX's core.abstract_token): a bool[0] to the backend."""
    __slots__ = ()

    def __init__(self):
        super().__init__((0,), np.bool_)
        self._hash = hash("AbstractToken")

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        if (shape in (None, self.shape) and dtype in (None, self.dtype)
                and not weak_type):
            return self
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype, bool(weak_type))

    def _key(self):
        return ("AbstractToken",)

    def str_short(self) -> str:
        return "Token"

    __str__ = __repr__ = lambda self: "AbstractToken()"  # noqa: E731


abstract_token = AbstractToken()


def is_token(x) -> bool:
    return type(core.get_aval(x)) is AbstractToken


def _empty(ctx, *operands):
    return ctx.constant(np.zeros((0,), np.bool_), abstract_token)


create_token_p = Primitive("create_token")
create_token_p.def_abstract_eval(lambda: abstract_token)
lowering_rules[create_token_p] = _empty
jvp_rules[create_token_p] = lambda primals, tangents: (create_token_p.bind(),
                                                       Zero(abstract_token.tangent_aval()))
# it takes no operands, so a batch never reaches it; bound under vmap it is one shared token
batching_rules[create_token_p] = lambda axis, args, dims: (create_token_p.bind(), None)


def _after_all_aval(*operands):
    if any(type(a) is not AbstractToken for a in operands):
        raise TypeError(f"Arguments to after_all must be tokens, got "
                        f"{[a.str_short() for a in operands]}: make them with lax.create_token()")
    return abstract_token


after_all_p = Primitive("after_all")
after_all_p.def_abstract_eval(_after_all_aval)
lowering_rules[after_all_p] = _empty
jvp_rules[after_all_p] = lambda primals, tangents: (after_all_p.bind(*primals),
                                                    Zero(abstract_token.tangent_aval()))


def _after_all_batch(axis, args, dims):
    if any(d is not None for d in dims):
        raise TypeError("after_all got a token batched over a vmap axis; tokens hold no data "
                        "and are never mapped: pass them with in_axes=None")
    return after_all_p.bind(*args), None


batching_rules[after_all_p] = _after_all_batch


def create_token(_=None):
    """A new token with no preconditions (the argument is ignored, as in JAX)."""
    return create_token_p.bind()


def after_all(*operands):
    """A token that comes after all of `operands` (tokens)."""
    return after_all_p.bind(*operands)
