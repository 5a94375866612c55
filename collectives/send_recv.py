"""psend and precv (`lax.psend`/`lax.precv`, JAX 0.10.2): one-sided sends and receives between
the participants of a named axis, ordered by compiler tokens.

XLA's CPU runtime in jaxlib 0.10.2 has no Send/Recv between devices (its thunk emitter rejects
the `send` opcode; JAX implements them on GPU only), and spmd has no token type to order them
with, so both check their axis name and then raise NotImplementedError naming the collective
that does the same exchange on every backend: ppermute.
"""
from __future__ import annotations

from spmd.collectives.axes import axis_size, canonical_names, check_pure_names


def _not_on_this_backend(who: str, axis_name) -> NotImplementedError:
    names = canonical_names(axis_name)
    check_pure_names(names, who)
    axis_size(names)  # an unbound name is the usual NameError, as in JAX
    return NotImplementedError(
        f"{who} cannot run on this backend: XLA's CPU runtime in jaxlib 0.10.2 has no "
        f"Send/Recv between devices (JAX implements {who} on GPU only). Use "
        f"spmd.lax.ppermute(x, axis_name, perm) instead: it sends and receives in one "
        f"collective, with the same (source, destination) pairs.")


def psend(x, axis_name, perm):
    """JAX's `lax.psend(x, axis_name, perm)`: not available on this backend (see the module)."""
    raise _not_on_this_backend("psend", axis_name)


def precv(token, out_shape, axis_name, perm):
    """JAX's `lax.precv(token, out_shape, axis_name, perm)`: not available on this backend."""
    raise _not_on_this_backend("precv", axis_name)
